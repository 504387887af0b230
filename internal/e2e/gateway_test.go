package e2e

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/clientcert"
	"postern/internal/emulator"
)

// Real nginx and real Caddy, run from deploy/, ask the real Postern about
// each request, identifying devices by the client certificates they
// present (made in the test, as an Intune certificate profile writes them).

// gatewayMachines picks, from the emulator's fleet, a Low-risk and a
// High-risk machine whose Entra device id no other machine shares.
func gatewayMachines(t *testing.T, machines []emulator.Machine) (low, high emulator.Machine) {
	t.Helper()
	count := map[string]int{}
	for _, m := range machines {
		if m.AADDeviceID != nil {
			count[strings.ToLower(*m.AADDeviceID)]++
		}
	}
	for _, m := range machines {
		if m.AADDeviceID == nil || count[strings.ToLower(*m.AADDeviceID)] != 1 || m.RiskScore == nil ||
			m.MergedIntoMachineID != nil || m.IsPotentialDuplication || m.ComputerDNSName == "" {
			continue
		}
		switch *m.RiskScore {
		case "Low":
			if low.ID == "" {
				low = m
			}
		case "High":
			if high.ID == "" {
				high = m
			}
		}
	}
	if low.ID == "" || high.ID == "" {
		t.Fatal("the emulator fleet has no unique Low- and High-risk Entra-joined machine; change the seed")
	}
	return low, high
}

// createGatewayToken creates an API token whose identity source is the
// client certificate, and returns it.
func createGatewayToken(t *testing.T, b *Browser, name string) string {
	t.Helper()
	b.ClickLink("API tokens", mainNav)
	b.WaitHeading("API tokens")
	b.FillByLabel("Token name", name)
	b.FillByLabel("Identity source", "Client certificate")
	b.ClickButton("Create token")
	b.WaitText("Copy it now")
	return Eval[string](b, `document.querySelector('[data-testid="new-token"]').innerText`)
}

func TestGatewaysAskPostern(t *testing.T) {
	gatewayBinary(t, "nginx") // skip before the browser starts when they are missing
	gatewayBinary(t, "caddy")
	const secretValue = "Ps7Q~gateway.Journey-Secret_0123456789ab"
	ms := startMicrosoft(t, secretValue)
	low, high := gatewayMachines(t, ms.emu.Machines())
	srv := StartServer(t, ms.args()...)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	connectDefender(t, b, secretValue, len(ms.emu.Machines()))
	newLowRiskCheck(t, b)
	saveCheck(t, b)
	token := createGatewayToken(t, b, "Gateways")

	pki := newDevicePKI(t)
	allowed := pki.deviceCert(t, *low.AADDeviceID, low.ComputerDNSName)
	denied := pki.deviceCert(t, *high.AADDeviceID, high.ComputerDNSName)
	up := startEchoUpstream(t)
	cfg := gatewayConfig{PKI: pki, Postern: strings.TrimPrefix(srv.URL, "http://"), Upstream: up.addr(), Token: token}
	gateways := []*gateway{startNginx(t, cfg), startCaddy(t, cfg)}

	for _, g := range gateways {
		t.Run(g.Name, func(t *testing.T) {
			t.Run("allowed device passes", func(t *testing.T) {
				res, body := g.Get(t, &allowed, "/", nil)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200; X-Postern-Reason %q; body %q", res.StatusCode, res.Header.Get("X-Postern-Reason"), body)
				}
				if !strings.Contains(body, low.ID) || !strings.Contains(body, "aad_device_id") {
					t.Errorf("the upstream did not get X-Postern-Device %s matched by aad_device_id: %s", low.ID, body)
				}
			})
			t.Run("denied device gets 403 and the reason", func(t *testing.T) {
				before := up.hits.Load()
				res, body := g.Get(t, &denied, "/", nil)
				if res.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403; body %q", res.StatusCode, body)
				}
				if got := res.Header.Get("X-Postern-Reason"); !strings.Contains(got, "High") {
					t.Errorf("X-Postern-Reason %q does not say why", got)
				}
				if up.hits.Load() != before {
					t.Error("a denied request reached the upstream")
				}
			})
			t.Run("no certificate gets 403 and the reason", func(t *testing.T) {
				res, body := g.Get(t, nil, "/", nil)
				if res.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403; body %q", res.StatusCode, body)
				}
				if got := res.Header.Get("X-Postern-Reason"); !strings.HasPrefix(got, "no device identity") {
					t.Errorf("X-Postern-Reason %q", got)
				}
			})
			t.Run("a spoofed identity header is ignored", func(t *testing.T) {
				// The denied device claims to be the allowed one.
				res, body := g.Get(t, &denied, "/", map[string]string{
					"X-Postern-Device-Id":       low.ID,
					"X-Postern-Entra-Device-Id": *low.AADDeviceID,
					"X-Postern-Hostname":        low.ComputerDNSName,
				})
				if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Header.Get("X-Postern-Reason"), "High") {
					t.Fatalf("status %d (want 403), X-Postern-Reason %q (want the certificate's device's); body %q", res.StatusCode, res.Header.Get("X-Postern-Reason"), body)
				}
				// Without a certificate the claim is not read either.
				res, body = g.Get(t, nil, "/", map[string]string{"X-Postern-Device-Id": low.ID})
				if res.StatusCode != http.StatusForbidden {
					t.Fatalf("without a certificate: status %d, want 403; body %q", res.StatusCode, body)
				}
			})
			t.Run("a forged certificate header is ignored", func(t *testing.T) {
				// The allowed device's genuine public certificate, in every
				// header and format a gateway forwards one in (nginx's
				// URL-escaped PEM, Caddy's base64 DER, Envoy's XFCC), sent
				// by a client as its own request headers.
				der := allowed.Certificate[0]
				escaped := url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
				for name, forged := range map[string]map[string]string{
					"URL-escaped PEM": {clientcert.HeaderTLS: escaped, clientcert.HeaderXFCC: `Cert="` + escaped + `"`},
					"base64 DER":      {clientcert.HeaderTLS: base64.StdEncoding.EncodeToString(der), clientcert.HeaderXFCC: `Cert="` + escaped + `"`},
				} {
					before := up.hits.Load()
					// No certificate of its own: no identity, never the forged one.
					res, body := g.Get(t, nil, "/", forged)
					if res.StatusCode != http.StatusForbidden || !strings.HasPrefix(res.Header.Get("X-Postern-Reason"), "no device identity") {
						t.Errorf("%s, no certificate: status %d (want 403), X-Postern-Reason %q (want no device identity); body %q",
							name, res.StatusCode, res.Header.Get("X-Postern-Reason"), body)
					}
					// With its own certificate: that one's device, never the forged one.
					res, body = g.Get(t, &denied, "/", forged)
					if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Header.Get("X-Postern-Reason"), "High") {
						t.Errorf("%s, denied device's certificate: status %d (want 403), X-Postern-Reason %q (want its own device's); body %q",
							name, res.StatusCode, res.Header.Get("X-Postern-Reason"), body)
					}
					if up.hits.Load() != before {
						t.Errorf("%s: a forged certificate header reached the upstream", name)
					}
				}
			})
		})
	}

	// Revoking the token stops both gateways: nothing passes.
	b.ClickLink("API tokens", mainNav)
	b.WaitHeading("API tokens")
	b.ClickButton("Revoke")
	b.ClickButton("Revoke") // in the confirmation dialog
	b.WaitText("Revoked")
	// (nginx turns Postern's 401 into a 503, deploy/nginx says why.)
	revoked := map[string]int{"nginx": http.StatusServiceUnavailable, "caddy": http.StatusUnauthorized}
	for _, g := range gateways {
		failsClosed(t, g, &allowed, up, "with the token revoked", revoked[g.Name])
	}

	// Postern down: nothing passes.
	srv.Stop()
	down := map[string]int{"nginx": http.StatusInternalServerError, "caddy": http.StatusBadGateway}
	for _, g := range gateways {
		failsClosed(t, g, &allowed, up, "with Postern down", down[g.Name])
	}
}

// failsClosed checks that an allowed device's request through g gets
// status (the one docs/gateways.md promises) and never reaches the
// upstream.
func failsClosed(t *testing.T, g *gateway, cert *tls.Certificate, up *echoUpstream, when string, status int) {
	t.Helper()
	before := up.hits.Load()
	res, body := g.Get(t, cert, "/", nil)
	if res.StatusCode != status || up.hits.Load() != before {
		t.Errorf("%s %s: status %d (want %d; %q), and the upstream got %d requests", g.Name, when, res.StatusCode, status, body, up.hits.Load()-before)
	}
}

// countingHop sits between a gateway and Postern and counts the
// forward-auth requests that reach Postern.
type countingHop struct {
	*httptest.Server
	asked atomic.Int64
}

func startCountingHop(t *testing.T, postern string) *countingHop {
	t.Helper()
	target, err := url.Parse(postern)
	if err != nil {
		t.Fatal(err)
	}
	h := &countingHop{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/posture/forward-auth") {
			h.asked.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

// The caching recipe of docs/gateways.md, as deploy/nginx runs it, with
// Postern's --forward-auth-max-age set: a device's second request within
// the max-age is answered from nginx's cache (Postern is asked once), and
// the cache key is the device's certificate (another device is asked
// about, never served the first one's allow).
func TestGatewayNginxCachesAnswers(t *testing.T) {
	gatewayBinary(t, "nginx")
	const secretValue = "Ps7Q~gateway.Cache-Secret_0123456789abcd"
	ms := startMicrosoft(t, secretValue)
	low, high := gatewayMachines(t, ms.emu.Machines())
	srv := StartServer(t, append(ms.args(), "--forward-auth-max-age=30s")...)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	connectDefender(t, b, secretValue, len(ms.emu.Machines()))
	newLowRiskCheck(t, b)
	saveCheck(t, b)
	token := createGatewayToken(t, b, "Caching gateway")

	pki := newDevicePKI(t)
	allowed := pki.deviceCert(t, *low.AADDeviceID, low.ComputerDNSName)
	denied := pki.deviceCert(t, *high.AADDeviceID, high.ComputerDNSName)
	up := startEchoUpstream(t)
	hop := startCountingHop(t, srv.URL)
	g := startNginx(t, gatewayConfig{PKI: pki, Postern: strings.TrimPrefix(hop.URL, "http://"), Upstream: up.addr(), Token: token})

	pass := func(cert *tls.Certificate, path string) {
		t.Helper()
		res, body := g.Get(t, cert, path, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, low.ID) {
			t.Fatalf("%s: status %d (want 200), X-Postern-Reason %q; the upstream got %s", path, res.StatusCode, res.Header.Get("X-Postern-Reason"), body)
		}
	}
	// (The harness's readiness probe may have asked already.)
	base := hop.asked.Load()
	asked := func() int64 { return hop.asked.Load() - base }
	start := time.Now()
	pass(&allowed, "/first")
	if n := asked(); n != 1 {
		t.Fatalf("Postern was asked %d times for one request", n)
	}
	// Same device, another page, within the max-age: from the cache, and the
	// application still gets Postern's X-Postern-Device (checked by pass).
	pass(&allowed, "/second?q=1")
	pass(&allowed, "/first")
	if n := asked(); n != 1 {
		t.Errorf("Postern was asked %d times for three requests of one device within the max-age, want 1 (nginx did not cache)", n)
	}
	// Another device is asked about and denied, not served the allow.
	res, body := g.Get(t, &denied, "/first", nil)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Header.Get("X-Postern-Reason"), "High") {
		t.Errorf("another device: status %d (want 403), X-Postern-Reason %q; body %q", res.StatusCode, res.Header.Get("X-Postern-Reason"), body)
	}
	if n := asked(); n != 2 {
		t.Errorf("Postern was asked %d times after another device's request, want 2", n)
	}
	// No certificate: Postern's refusal says "do not cache": asked each time.
	for range 2 {
		if res, _ := g.Get(t, nil, "/", nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("no certificate: status %d, want 403", res.StatusCode)
		}
	}
	if n := asked(); n != 4 {
		t.Errorf("Postern was asked %d times after two requests without a certificate, want 4 (a refusal was cached)", n)
	}
	if time.Since(start) > 25*time.Second {
		t.Fatalf("the requests took %v, too close to the 30s max-age for the counts to mean anything", time.Since(start))
	}
}
