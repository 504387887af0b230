package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"postern/internal/clientcert"
	"postern/internal/clientcert/clientcerttest"
	"postern/internal/fleet"
)

const (
	faDevID  = "0123456789abcdef0123456789abcdef01234567"
	faEntra  = "412b5bc7-b27e-492a-9533-4bf2de2ac80a"
	faOther  = "fedcba9876543210fedcba9876543210fedcba98"
	faEntra2 = "aaaaaaaa-0000-4000-8000-000000000002"
)

// certEnv is a console whose forward-auth verifies certificates against a
// test CA, with two synced devices and a headers and a certificate token.
func certEnv(t *testing.T) (e *testEnv, ca *clientcerttest.CA, hdrTok, certTok string) {
	t.Helper()
	ca = clientcerttest.NewCA(t, "Device CA", time.Now())
	e = newEnvDeps(t, "http://127.0.0.1:1", Deps{ClientCert: &clientcert.Config{Roots: ca.Pool}})
	e.setup()
	admin := e.signedIn()
	hdrTok = createTokenFrom(t, admin, "nginx headers", "headers")
	certTok = createTokenFrom(t, admin, "nginx certificate", "certificate")
	e.fleet.Store(fleet.NewSnapshot([]fleet.Device{
		{ID: faDevID, AADDeviceID: faEntra, Host: "pc-hana-qn4t.corp.example.com", RiskScore: "Low"},
		{ID: faOther, AADDeviceID: faEntra2, Host: "pc-other.corp.example.com", RiskScore: "Low"},
	}, e.clock.Now(), 1))
	return e, ca, hdrTok, certTok
}

func TestForwardAuthClientCertificate(t *testing.T) {
	e, ca, hdrTok, certTok := certEnv(t)
	der := ca.Issue(t, clientcerttest.Device{URIs: []string{"IntuneDeviceId://" + faEntra2 + "," + strings.ToUpper(faEntra)},
		DNS: []string{"pc-hana-qn4t.corp.example.com"}})
	byHost := ca.Issue(t, clientcerttest.Device{DNS: []string{"pc-other"}})

	for name, h := range map[string][2]string{
		"nginx":      {clientcert.HeaderTLS, clientcerttest.Nginx(der)},
		"Caddy":      {clientcert.HeaderTLS, clientcerttest.Base64(der)},
		"Traefik v2": {clientcert.HeaderTLS, clientcerttest.TraefikV2(der, ca.Cert.Raw)},
		"Envoy":      {clientcert.HeaderXFCC, clientcerttest.Envoy(der)},
	} {
		t.Run(name, func(t *testing.T) {
			for _, tok := range []string{certTok, hdrTok} {
				res := faAsk(t, e, "GET", "/app", map[string]string{hdrToken: tok, h[0]: h[1]})
				faWant(t, res, http.StatusOK)
				if res.Header.Get(hdrDevice) != faDevID || res.Header.Get(hdrMatchedBy) != "aad_device_id" {
					t.Errorf("headers %v", res.Header)
				}
			}
		})
	}

	t.Run("DNS SAN as host name", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{hdrToken: certTok, clientcert.HeaderTLS: clientcerttest.Base64(byHost)})
		faWant(t, res, http.StatusOK)
		if res.Header.Get(hdrDevice) != faOther || res.Header.Get(hdrMatchedBy) != "hostname" {
			t.Errorf("headers %v", res.Header)
		}
	})

	t.Run("spoofed identity headers are ignored by a certificate token", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{hdrToken: certTok, clientcert.HeaderTLS: clientcerttest.Nginx(der),
			hdrDeviceID: faOther, hdrEntraID: faEntra2, hdrHostname: "pc-other"})
		faWant(t, res, http.StatusOK)
		if res.Header.Get(hdrDevice) != faDevID {
			t.Errorf("the spoofed header won: %v", res.Header)
		}
		res = faAsk(t, e, "GET", "", map[string]string{hdrToken: certTok, hdrDeviceID: faOther})
		faWant(t, res, http.StatusForbidden)
		if res.Header.Get(hdrReason) != reasonNoIdentity {
			t.Errorf("reason %q", res.Header.Get(hdrReason))
		}
	})

	t.Run("a headers token prefers the proxy's headers", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{hdrToken: hdrTok, clientcert.HeaderTLS: clientcerttest.Nginx(der), hdrDeviceID: faOther})
		faWant(t, res, http.StatusOK)
		if res.Header.Get(hdrDevice) != faOther {
			t.Errorf("headers %v", res.Header)
		}
	})

	t.Run("certificate of another CA", func(t *testing.T) {
		rogue := clientcerttest.NewCA(t, "Rogue", time.Now())
		res := faAsk(t, e, "GET", "", map[string]string{hdrToken: certTok,
			clientcert.HeaderTLS: clientcerttest.Nginx(rogue.Issue(t, clientcerttest.Device{URIs: []string{faEntra}}))})
		faWant(t, res, http.StatusForbidden)
		if !strings.Contains(res.Header.Get(hdrReason), "not issued by the configured CA") || res.Header.Get(hdrDevice) != "" {
			t.Errorf("headers %v", res.Header)
		}
	})

	t.Run("malformed certificate header is 403 saying what", func(t *testing.T) {
		for _, v := range []string{"!!!", "aGVsbG8=", "%zz"} {
			res := faAsk(t, e, "GET", "", map[string]string{hdrToken: certTok, clientcert.HeaderTLS: v})
			faWant(t, res, http.StatusForbidden)
			if r := res.Header.Get(hdrReason); !strings.HasPrefix(r, "client certificate: ") || len(r) < 30 {
				t.Errorf("%q: reason %q", v, r)
			}
		}
		res := faAsk(t, e, "GET", "", map[string]string{hdrToken: certTok, clientcert.HeaderXFCC: "By=x;Hash=y"})
		faWant(t, res, http.StatusForbidden)
		if r := res.Header.Get(hdrReason); !strings.Contains(r, "Cert") {
			t.Errorf("XFCC without Cert: reason %q", r)
		}
	})

	t.Run("a certificate naming no device", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{hdrToken: certTok,
			clientcert.HeaderTLS: clientcerttest.Base64(ca.Issue(t, clientcerttest.Device{CN: "someone"}))})
		faWant(t, res, http.StatusForbidden)
		if !strings.Contains(res.Header.Get(hdrReason), "names no device") {
			t.Errorf("reason %q", res.Header.Get(hdrReason))
		}
	})
}
