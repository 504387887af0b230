package e2e

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
