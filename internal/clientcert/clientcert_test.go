package clientcert_test

import (
	"bytes"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"postern/internal/clientcert"
	"postern/internal/clientcert/clientcerttest"
)

const (
	guid  = "412b5bc7-b27e-492a-9533-4bf2de2ac80a"
	guid2 = "aaaaaaaa-0000-4000-8000-000000000002"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func hdr(name, v string) http.Header {
	h := http.Header{}
	h.Set(name, v)
	return h
}

func TestEveryProxyFormat(t *testing.T) {
	ca := clientcerttest.NewCA(t, "Device CA", now)
	der := ca.Issue(t, clientcerttest.Device{URIs: []string{guid}, DNS: []string{"pc-hana-qn4t.corp.example.com"}})
	other := ca.Issue(t, clientcerttest.Device{URIs: []string{guid2}})
	cases := map[string]http.Header{
		"nginx escaped PEM":              hdr(clientcert.HeaderTLS, clientcerttest.Nginx(der)),
		"Caddy base64 DER":               hdr(clientcert.HeaderTLS, clientcerttest.Base64(der)),
		"Traefik base64 DER":             hdr(clientcert.HeaderTLS, clientcerttest.Base64(der)+","+clientcerttest.Base64(ca.Cert.Raw)),
		"Traefik v2 PEM body chain":      hdr(clientcert.HeaderTLS, clientcerttest.TraefikV2(der, ca.Cert.Raw)),
		"Envoy XFCC":                     hdr(clientcert.HeaderXFCC, clientcerttest.Envoy(der)),
		"Envoy XFCC, two elements":       hdr(clientcert.HeaderXFCC, clientcerttest.Envoy(der)+","+clientcerttest.Envoy(other)),
		"Envoy XFCC, first without Cert": hdr(clientcert.HeaderXFCC, `By=spiffe://a;Hash=x;Subject="CN=a, O=b",`+clientcerttest.Envoy(der)),
		"nginx PEM with + for spaces":    hdr(clientcert.HeaderTLS, strings.ReplaceAll(clientcerttest.Nginx(der), "%20", "+")),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			for _, cfg := range []*clientcert.Config{{}, {Roots: ca.Pool, Now: func() time.Time { return now }}} {
				id, err := clientcert.FromRequest(h, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if id.EntraDeviceID != guid || id.Hostname != "pc-hana-qn4t.corp.example.com" {
					t.Errorf("identity %+v", id)
				}
			}
		})
	}
}

func TestDeviceIDFromSANs(t *testing.T) {
	ca := clientcerttest.NewCA(t, "Device CA", now)
	sid := "tag:microsoft.com,2022-09-14:sid:S-1-5-21-1004336348-1177238915-682003330-512"
	cases := []struct {
		name string
		dev  clientcerttest.Device
		cfg  clientcert.Config
		want clientcert.Identity
	}{
		{"bare GUID, upper case", clientcerttest.Device{URIs: []string{strings.ToUpper(guid)}}, clientcert.Config{}, clientcert.Identity{EntraDeviceID: guid}},
		{"comma-joined in one value", clientcerttest.Device{URIs: []string{"IntuneDeviceId://" + guid2 + "," + guid}}, clientcert.Config{}, clientcert.Identity{EntraDeviceID: guid}},
		{"SID tag and Intune id are not device ids", clientcerttest.Device{URIs: []string{sid, "IntuneDeviceId://" + guid2}, DNS: []string{"pc-1"}}, clientcert.Config{}, clientcert.Identity{Hostname: "pc-1"}},
		{"SID tag joined before the id", clientcerttest.Device{URIs: []string{sid + "," + guid}}, clientcert.Config{}, clientcert.Identity{EntraDeviceID: guid}},
		{"configured prefix", clientcerttest.Device{URIs: []string{"urn:entra:device:" + guid}}, clientcert.Config{URIPrefixes: []string{"URN:entra:device:"}}, clientcert.Identity{EntraDeviceID: guid}},
		{"unconfigured prefix is ignored", clientcerttest.Device{URIs: []string{"urn:entra:device:" + guid}, DNS: []string{"pc-2"}}, clientcert.Config{}, clientcert.Identity{Hostname: "pc-2"}},
		{"CN only when configured", clientcerttest.Device{CN: guid, DNS: []string{"pc-3"}}, clientcert.Config{}, clientcert.Identity{Hostname: "pc-3"}},
		{"CN configured", clientcerttest.Device{CN: guid}, clientcert.Config{SubjectCN: true}, clientcert.Identity{EntraDeviceID: guid}},
		{"URI SAN wins over CN", clientcerttest.Device{CN: guid2, URIs: []string{guid}}, clientcert.Config{SubjectCN: true}, clientcert.Identity{EntraDeviceID: guid}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.cfg.Read(ca.Issue(t, tc.dev))
			if err != nil {
				t.Fatal(err)
			}
			if id != tc.want {
				t.Errorf("identity %+v, want %+v", id, tc.want)
			}
		})
	}
	t.Run("no identity", func(t *testing.T) {
		_, err := (&clientcert.Config{}).Read(ca.Issue(t, clientcerttest.Device{CN: guid, URIs: []string{sid}}))
		if err == nil || !strings.Contains(err.Error(), "names no device") {
			t.Errorf("err %v", err)
		}
	})
}

func TestVerification(t *testing.T) {
	ca := clientcerttest.NewCA(t, "Device CA", now)
	rogue := clientcerttest.NewCA(t, "Rogue CA", now)
	der := rogue.Issue(t, clientcerttest.Device{URIs: []string{guid}})
	cfg := &clientcert.Config{Roots: ca.Pool, Now: func() time.Time { return now }}
	if _, err := cfg.Read(der); err == nil || !strings.Contains(err.Error(), "not issued by the configured CA") {
		t.Errorf("a certificate of another CA: %v", err)
	}
	late := &clientcert.Config{Roots: ca.Pool, Now: func() time.Time { return now.Add(48 * time.Hour) }}
	if _, err := late.Read(ca.Issue(t, clientcerttest.Device{URIs: []string{guid}})); err == nil {
		t.Error("an expired certificate is accepted")
	}
	if _, err := (&clientcert.Config{}).Read(der); err != nil {
		t.Errorf("without a CA bundle: %v", err)
	}
}

// Intune may join several URIs in one URI SAN ("<guid>,IntuneDeviceId://…"),
// which crypto/x509 refuses to parse: with a CA bundle such a certificate is
// still verified (against the bundle's keys, dates, key usage), not refused.
func TestVerificationCommaJoinedSAN(t *testing.T) {
	ca := clientcerttest.NewCA(t, "Device CA", now)
	rogue := clientcerttest.NewCA(t, "Rogue CA", now)
	joined := clientcerttest.Device{URIs: []string{guid + ",IntuneDeviceId://" + guid2}, DNS: []string{"pc-9"}}
	der := ca.Issue(t, joined)
	if _, err := x509.ParseCertificate(der); err == nil {
		t.Fatal("crypto/x509 parses the comma-joined SAN: the test no longer covers the fallback")
	}
	cfg := &clientcert.Config{Roots: ca.Pool, Now: func() time.Time { return now }}
	id, err := cfg.Read(der)
	if err != nil || id.EntraDeviceID != guid || id.Hostname != "pc-9" {
		t.Fatalf("Read: %+v, %v", id, err)
	}
	if _, err := cfg.Read(rogue.Issue(t, joined)); err == nil || !strings.Contains(err.Error(), "not issued by the configured CA") {
		t.Errorf("a certificate of another CA: %v", err)
	}
	// Another CA's certificate with this CA's name: the signature decides.
	impostor := clientcerttest.NewCA(t, "Device CA", now)
	if _, err := cfg.Read(impostor.Issue(t, joined)); err == nil || !strings.Contains(err.Error(), "not issued by the configured CA") {
		t.Errorf("a certificate of a CA with the same name: %v", err)
	}
	for _, at := range []time.Time{now.Add(48 * time.Hour), now.Add(-2 * time.Hour)} {
		c := &clientcert.Config{Roots: ca.Pool, Now: func() time.Time { return at }}
		if _, err := c.Read(der); err == nil {
			t.Errorf("at %v, outside the certificate's validity: accepted", at)
		}
	}
	// A flipped bit in the signed part.
	bad := bytes.Clone(der)
	i := bytes.Index(bad, []byte("pc-9"))
	bad[i] = 'q'
	if _, err := cfg.Read(bad); err == nil {
		t.Error("a certificate altered after signing is accepted")
	}
	// Not for client authentication.
	server := ca.Issue(t, clientcerttest.Device{URIs: joined.URIs, ServerAuthOnly: true})
	if _, err := cfg.Read(server); err == nil {
		t.Error("a certificate for server authentication only is accepted")
	}
}

func TestMalformedHeaders(t *testing.T) {
	for name, h := range map[string]http.Header{
		"bad escaping":   hdr(clientcert.HeaderTLS, "%zz-----BEGIN"),
		"not base64":     hdr(clientcert.HeaderTLS, "!!!"),
		"base64 not DER": hdr(clientcert.HeaderTLS, "aGVsbG8="),
		"PEM of a key":   hdr(clientcert.HeaderTLS, "-----BEGIN%20PRIVATE%20KEY-----%0AaGVsbG8=%0A-----END%20PRIVATE%20KEY-----%0A"),
		"XFCC no Cert":   hdr(clientcert.HeaderXFCC, `By=spiffe://a;Hash=abc`),
		"XFCC bad Cert":  hdr(clientcert.HeaderXFCC, `Cert="%zz"`),
		"twice":          {clientcert.HeaderTLS: {"a", "b"}},
		"too long":       hdr(clientcert.HeaderTLS, strings.Repeat("A", 40<<10)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := clientcert.FromRequest(h, &clientcert.Config{})
			if err == nil || err == clientcert.ErrNone {
				t.Fatalf("err %v, want a malformed-header error", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("message spans lines: %q", err)
			}
		})
	}
	if _, err := clientcert.FromRequest(http.Header{clientcert.HeaderTLS: {""}}, &clientcert.Config{}); err != clientcert.ErrNone {
		t.Errorf("an empty header: %v, want ErrNone", err)
	}
}

func FuzzFromRequest(f *testing.F) {
	ca := clientcerttest.NewCA(f, "Device CA", now)
	der := ca.Issue(f, clientcerttest.Device{URIs: []string{guid + ",x"}, DNS: []string{"pc"}, CN: guid})
	f.Add(clientcerttest.Nginx(der), "")
	f.Add(clientcerttest.Base64(der), "")
	f.Add(clientcerttest.TraefikV2(der, der), "")
	f.Add("", clientcerttest.Envoy(der))
	f.Add("", `a="b\"c";Cert="x",y`)
	f.Fuzz(func(t *testing.T, tls, xfcc string) {
		h := http.Header{}
		if tls != "" {
			h.Set(clientcert.HeaderTLS, tls)
		}
		if xfcc != "" {
			h.Set(clientcert.HeaderXFCC, xfcc)
		}
		id, err := clientcert.FromRequest(h, &clientcert.Config{SubjectCN: true, URIPrefixes: []string{"urn:"}})
		if err == nil && id.EntraDeviceID == "" && id.Hostname == "" {
			t.Error("no error and no identity")
		}
		if err != nil && strings.ContainsAny(err.Error(), "\r\n\x00") && !strings.Contains(err.Error(), "verified") {
			t.Errorf("message spans lines: %q", err)
		}
	})
}

// The cache answers as FromRequest does, and never past a verified
// certificate's NotAfter or a minute.
func TestCache(t *testing.T) {
	ca := clientcerttest.NewCA(t, "Device CA", now) // certificates valid until now+24h
	rogue := clientcerttest.NewCA(t, "Rogue", now)
	at := now
	cfg := &clientcert.Config{Roots: ca.Pool, Now: func() time.Time { return at }}
	var c clientcert.Cache
	good := hdr(clientcert.HeaderTLS, clientcerttest.Nginx(ca.Issue(t, clientcerttest.Device{URIs: []string{guid}})))
	bad := hdr(clientcert.HeaderTLS, clientcerttest.Nginx(rogue.Issue(t, clientcerttest.Device{URIs: []string{guid}})))
	for range 3 {
		if id, err := c.FromRequest(good, cfg); err != nil || id.EntraDeviceID != guid {
			t.Fatalf("%+v %v", id, err)
		}
		if _, err := c.FromRequest(bad, cfg); err == nil {
			t.Fatal("a certificate of another CA is accepted")
		}
	}
	if _, err := c.FromRequest(http.Header{}, cfg); err != clientcert.ErrNone {
		t.Errorf("no header: %v", err)
	}
	at = now.Add(24*time.Hour - 30*time.Second) // read again: this entry ends at NotAfter, not a minute on
	if _, err := c.FromRequest(good, cfg); err != nil {
		t.Fatalf("before NotAfter: %v", err)
	}
	at = now.Add(24*time.Hour + time.Second)
	if _, err := c.FromRequest(good, cfg); err == nil {
		t.Error("an expired certificate is answered from the cache")
	}
}
