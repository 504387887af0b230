package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The harness's own test: nginx and Caddy start from the deploy/
// configurations and proxy to the upstream, and they hand the auth service
// what the deploy/ comments promise (the gateway's token, the client's
// certificate, none of the client's X-Postern-* headers), and the client
// what it answers (403 with X-Postern-Reason; nothing passes on 401 or when
// it is down). The auth service here is a stand-in that reads the
// forwarded certificate; the gateway tests put Postern itself there.

// echoUpstream is the application behind the gateway: it answers 200 with
// the request headers it got, as JSON, and counts its requests.
type echoUpstream struct {
	*httptest.Server
	hits atomic.Int64
}

func startEchoUpstream(t testing.TB) *echoUpstream {
	t.Helper()
	u := &echoUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(u.Close)
	return u
}

// addr is the upstream's host:port.
func (u *echoUpstream) addr() string { return strings.TrimPrefix(u.URL, "http://") }

// standInAuth answers forward-auth requests as Postern's contract says,
// allowing the devices whose certificate carries an Entra device id of
// allowed, and records the last request's headers.
type standInAuth struct {
	*httptest.Server
	token   atomic.Value // string: the token it accepts
	allowed map[string]string

	mu   sync.Mutex
	last http.Header
}

func startStandInAuth(t testing.TB, token string, allowed map[string]string) *standInAuth {
	t.Helper()
	a := &standInAuth{allowed: allowed}
	a.token.Store(token)
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *standInAuth) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.last = r.Header.Clone()
	a.mu.Unlock()
	deny := func(reason string) {
		w.Header().Set("X-Postern-Allowed", "false")
		w.Header().Set("X-Postern-Reason", reason)
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("Denied: " + reason + "\n"))
	}
	if r.URL.Path != "/api/v1/posture/forward-auth" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+a.token.Load().(string) {
		http.Error(w, "missing or revoked API token", http.StatusUnauthorized)
		return
	}
	raw := r.Header.Get("X-Forwarded-Tls-Client-Cert")
	if raw == "" {
		deny("no device identity: send X-Postern-Device-Id or a client certificate")
		return
	}
	cert, err := decodeForwardedCert(raw)
	if err != nil {
		deny("malformed client certificate: " + err.Error())
		return
	}
	for _, u := range cert.URIs {
		if machine, ok := a.allowed[u.String()]; ok {
			w.Header().Set("X-Postern-Allowed", "true")
			w.Header().Set("X-Postern-Device", machine)
			w.Header().Set("X-Postern-Matched-By", "entra_device_id")
			w.Write([]byte("Allowed\n"))
			return
		}
	}
	deny("Low risk only: risk score High exceeds the allowed Medium")
}

// lastHeaders returns the headers of the last request the stand-in got.
func (a *standInAuth) lastHeaders() http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// decodeForwardedCert reads nginx's $ssl_client_escaped_cert (URL-escaped
// PEM) or Caddy's certificate_der_base64 (base64 DER).
func decodeForwardedCert(raw string) (*x509.Certificate, error) {
	if s, err := url.QueryUnescape(raw); err == nil && strings.Contains(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return nil, errString("no PEM block")
		}
		return x509.ParseCertificate(block.Bytes)
	}
	der, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

type errString string

func (e errString) Error() string { return string(e) }

func TestGatewayHarness(t *testing.T) {
	const (
		token      = "pst_selftest_token"
		allowedID  = "0f8fad5b-d9cb-469f-a165-70867728950e"
		deniedID   = "5b1e3c7a-2d4f-4a6b-8c9d-0e1f2a3b4c5d"
		allowedMID = "b9d1f4e2a7c3e5f60718293a4b5c6d7e8f901234"
	)
	for _, start := range []func(testing.TB, gatewayConfig) *gateway{startNginx, startCaddy} {
		pki := newDevicePKI(t)
		up := startEchoUpstream(t)
		auth := startStandInAuth(t, token, map[string]string{allowedID: allowedMID})
		g := start(t, gatewayConfig{PKI: pki, Postern: strings.TrimPrefix(auth.URL, "http://"), Upstream: up.addr(), Token: token})
		allowed := pki.deviceCert(t, allowedID, "laptop-0042.corp.example.com")
		denied := pki.deviceCert(t, deniedID, "laptop-0666.corp.example.com")
		spoof := map[string]string{
			"X-Postern-Device-Id":         "spoofed-machine",
			"X-Postern-Entra-Device-Id":   allowedID,
			"X-Postern-Hostname":          "spoofed-host",
			"X-Postern-Device":            "spoofed-machine",
			"X-Forwarded-Client-Cert":     "Hash=00;Cert=\"spoofed\"",
			"X-Forwarded-Tls-Client-Cert": "spoofed",
		}
		t.Run(g.Name, func(t *testing.T) {
			t.Run("allowed device passes", func(t *testing.T) {
				res, body := g.Get(t, &allowed, "/app/page?q=1", spoof)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200; body %q", res.StatusCode, body)
				}
				var seen http.Header
				if err := json.Unmarshal([]byte(body), &seen); err != nil {
					t.Fatalf("the upstream's answer %q: %v", body, err)
				}
				if got := seen.Get("X-Postern-Device"); got != allowedMID {
					t.Errorf("the upstream got X-Postern-Device %q, want Postern's %q", got, allowedMID)
				}
				for _, h := range []string{"X-Postern-Device-Id", "X-Postern-Entra-Device-Id", "X-Postern-Hostname", "X-Forwarded-Client-Cert", "X-Forwarded-Tls-Client-Cert"} {
					if v := seen.Values(h); len(v) > 0 {
						t.Errorf("the client's %s reached the upstream: %q", h, v)
					}
				}
				last := auth.lastHeaders()
				for _, h := range []string{"X-Postern-Device-Id", "X-Postern-Entra-Device-Id", "X-Postern-Hostname", "X-Postern-Device", "X-Forwarded-Client-Cert"} {
					if v := last.Values(h); len(v) > 0 {
						t.Errorf("the client's %s reached the auth service: %q", h, v)
					}
				}
				if v := last.Values("X-Forwarded-Tls-Client-Cert"); len(v) != 1 {
					t.Fatalf("the auth service got X-Forwarded-Tls-Client-Cert %q, want the one certificate", v)
				}
				cert, err := decodeForwardedCert(last.Get("X-Forwarded-Tls-Client-Cert"))
				if err != nil || !bytes.Equal(cert.Raw, allowed.Certificate[0]) {
					t.Errorf("the forwarded certificate is not the client's: %v", err)
				}
			})
			t.Run("denied device gets 403 and the reason", func(t *testing.T) {
				before := up.hits.Load()
				res, body := g.Get(t, &denied, "/", spoof)
				if res.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403; body %q", res.StatusCode, body)
				}
				if got := res.Header.Get("X-Postern-Reason"); got != "Low risk only: risk score High exceeds the allowed Medium" {
					t.Errorf("X-Postern-Reason %q", got)
				}
				if up.hits.Load() != before {
					t.Error("a denied request reached the upstream")
				}
			})
			t.Run("no certificate gets 403 and the reason", func(t *testing.T) {
				res, body := g.Get(t, nil, "/", spoof)
				if res.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403; body %q", res.StatusCode, body)
				}
				if got := res.Header.Get("X-Postern-Reason"); !strings.HasPrefix(got, "no device identity") {
					t.Errorf("X-Postern-Reason %q", got)
				}
				// nginx sends no header, Caddy an empty one: Postern
				// reads both as no certificate.
				if v := auth.lastHeaders().Values("X-Forwarded-Tls-Client-Cert"); len(v) > 1 || len(v) == 1 && v[0] != "" {
					t.Errorf("the auth service got X-Forwarded-Tls-Client-Cert %q without a client certificate", v)
				}
			})
			t.Run("a certificate of another CA does not pass", func(t *testing.T) {
				other := newDevicePKI(t).deviceCert(t, allowedID, "laptop-0042.corp.example.com")
				before := up.hits.Load()
				req, _ := http.NewRequest(http.MethodGet, g.URL("/"), nil)
				if res, err := g.Client(&other).Do(req); err == nil {
					res.Body.Close()
					if res.StatusCode < 400 {
						t.Errorf("status %d for a certificate of another CA", res.StatusCode)
					}
				}
				if up.hits.Load() != before {
					t.Error("the request reached the upstream")
				}
			})
			t.Run("revoked token fails closed", func(t *testing.T) {
				auth.token.Store("another token")
				defer auth.token.Store(token)
				before := up.hits.Load()
				res, body := g.Get(t, &allowed, "/", nil)
				if res.StatusCode < 400 {
					t.Errorf("status %d with a revoked token; body %q", res.StatusCode, body)
				}
				if up.hits.Load() != before {
					t.Error("the request reached the upstream")
				}
			})
		})
	}
}

// Postern down: nothing passes. (Last, in a test of its own: it closes the
// stand-in.)
func TestGatewayHarnessAuthDown(t *testing.T) {
	for _, start := range []func(testing.TB, gatewayConfig) *gateway{startNginx, startCaddy} {
		pki := newDevicePKI(t)
		up := startEchoUpstream(t)
		auth := startStandInAuth(t, "t", nil)
		g := start(t, gatewayConfig{PKI: pki, Postern: strings.TrimPrefix(auth.URL, "http://"), Upstream: up.addr(), Token: "t"})
		auth.Close()
		cert := pki.deviceCert(t, "0f8fad5b-d9cb-469f-a165-70867728950e", "laptop.corp.example.com")
		res, body := g.Get(t, &cert, "/", nil)
		if res.StatusCode < 500 || up.hits.Load() != 0 {
			t.Errorf("%s with its auth service down: status %d (%q), %d requests reached the upstream", g.Name, res.StatusCode, body, up.hits.Load())
		}
	}
}
