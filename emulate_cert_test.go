package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/testkit"
)

// emulate-defender --client-cert FILE registers the certificate on the app:
// an assertion it signs gets a token, one signed by another does not; an
// unreadable file stops the command.
func TestEmulateDefenderClientCert(t *testing.T) {
	now := time.Now()
	cert, _ := defender.GenerateCertificate(2048, "cmd", now)
	other, _ := defender.GenerateCertificate(2048, "other", now)
	path := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(path, []byte(cert.CertificatePEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"emulate-defender", "--addr", "127.0.0.1:0", "--machines", "2", "--client-cert", path}, envOf(nil), out)
	}()
	m := waitFor(t, out, regexp.MustCompile(`emulator listening on (http://127\.0\.0\.1:\d+)`))
	tokenURL := m[1] + "/" + emulator.DemoTenantID + "/oauth2/v2.0/token"
	for _, tc := range []struct {
		c    *defender.Certificate
		want int
	}{{cert, http.StatusOK}, {other, http.StatusUnauthorized}} {
		a, err := tc.c.Assertion(emulator.DemoClientID, tokenURL, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.PostForm(tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {emulator.DemoClientID},
			"scope": {"https://api.securitycenter.microsoft.com/.default"}, "client_assertion_type": {defender.ClientAssertionType},
			"client_assertion": {a}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("token with %s: %d, want %d", tc.c, res.StatusCode, tc.want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("emulate-defender: %v", err)
	}
	err := run(context.Background(), []string{"emulate-defender", "--addr", "127.0.0.1:0", "--client-cert", filepath.Join(t.TempDir(), "missing.pem")}, envOf(nil), &testkit.Buffer{})
	if err == nil {
		t.Error("a missing --client-cert file did not stop emulate-defender")
	}
}
