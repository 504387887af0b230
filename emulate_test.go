package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/emulator"
	"postern/internal/testkit"
)

func waitFor(t *testing.T, out *testkit.Buffer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("output never matched %s:\n%s", re, out)
	return nil
}

func tokenStatus(t *testing.T, base, tenant, client, secretValue string) int {
	t.Helper()
	res, err := http.PostForm(base+"/"+tenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secretValue},
		"scope": {"https://api.securitycenter.microsoft.com/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestEmulateDefenderCommand(t *testing.T) {
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"emulate-defender", "--addr", "127.0.0.1:0", "--client-secret", "Cmd~line.Secret", "--machines", "5"}, envOf(nil), out)
	}()
	m := waitFor(t, out, regexp.MustCompile(`emulator listening on (http://127\.0\.0\.1:\d+)`))
	if got := tokenStatus(t, m[1], emulator.DemoTenantID, emulator.DemoClientID, "Cmd~line.Secret"); got != http.StatusOK {
		t.Errorf("token with the configured secret: %d", got)
	}
	if got := tokenStatus(t, m[1], emulator.DemoTenantID, emulator.DemoClientID, emulator.DemoClientSecret); got != http.StatusUnauthorized {
		t.Errorf("token with another secret: %d, want 401", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("emulate-defender: %v", err)
	}
}

// --demo starts the emulator beside the console and prints what to paste.
func TestDemoPrintsWorkingCredentials(t *testing.T) {
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--demo", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, envOf(nil), out)
	}()
	waitForURL(t, out)
	m := waitFor(t, out, regexp.MustCompile(`at (http://127\.0\.0\.1:\d+)\s+Paste[^\n]*\n\s+Tenant ID\s+(\S+)\n\s+Client ID\s+(\S+)\n\s+Client Secret\s+(\S+)`))
	if got := tokenStatus(t, m[1], m[2], m[3], m[4]); got != http.StatusOK {
		t.Errorf("printed demo credentials get %d from the demo emulator, want 200", got)
	}
	if !strings.Contains(out.String(), "defender_login_url="+m[1]) {
		t.Errorf("the console is not pointed at the demo emulator:\n%s", out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With --log-format json, the demo's credentials are a JSON line like every
// other: the whole output parses, and the credentials in it work.
func TestDemoJSONLogStaysJSON(t *testing.T) {
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--demo", "--log-format", "json", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, envOf(nil), out)
	}()
	waitFor(t, out, regexp.MustCompile(`"msg":"postern is ready"`))
	var demo map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a line of the JSON log is not JSON: %q", line)
		}
		if _, ok := rec["client_secret"]; ok {
			demo = rec
		}
	}
	if demo == nil {
		t.Fatalf("no demo credentials in the log:\n%s", out)
	}
	url, _ := demo["emulator_url"].(string)
	tenant, _ := demo["tenant_id"].(string)
	client, _ := demo["client_id"].(string)
	secretValue, _ := demo["client_secret"].(string)
	if got := tokenStatus(t, url, tenant, client, secretValue); got != http.StatusOK {
		t.Errorf("logged demo credentials get %d from the demo emulator, want 200", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The refusal switches reach the emulator: --token-429 N throttles the
// next N token requests, then --conditional-access refuses with 400.
func TestEmulateDefenderRefusalFlags(t *testing.T) {
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"emulate-defender", "--addr", "127.0.0.1:0", "--machines", "2",
			"--token-429", "1", "--conditional-access", "--disabled-feature", "--account-inactive"}, envOf(nil), out)
	}()
	m := waitFor(t, out, regexp.MustCompile(`emulator listening on (http://127\.0\.0\.1:\d+)`))
	for _, want := range []int{http.StatusTooManyRequests, http.StatusBadRequest} {
		if got := tokenStatus(t, m[1], emulator.DemoTenantID, emulator.DemoClientID, emulator.DemoClientSecret); got != want {
			t.Errorf("token request: %d, want %d", got, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("emulate-defender: %v", err)
	}
}

// --shrink-fleet leaves a share of the machines out of the listing; a
// value outside 0–100 is refused.
func TestEmulateDefenderShrinkFleet(t *testing.T) {
	if err := run(t.Context(), []string{"emulate-defender", "--addr", "127.0.0.1:0", "--shrink-fleet", "101"}, envOf(nil), &testkit.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "--shrink-fleet") {
		t.Errorf("--shrink-fleet 101: %v, want refused", err)
	}
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"emulate-defender", "--addr", "127.0.0.1:0", "--machines", "10", "--shrink-fleet", "50"}, envOf(nil), out)
	}()
	base := waitFor(t, out, regexp.MustCompile(`emulator listening on (http://127\.0\.0\.1:\d+)`))[1]
	res, err := http.PostForm(base+"/"+emulator.DemoTenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {emulator.DemoClientID}, "client_secret": {emulator.DemoClientSecret},
		"scope": {"https://api.securitycenter.microsoft.com/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/machines", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	err = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if err != nil || len(page.Value) != 5 {
		t.Errorf("listing of 10 machines shrunk by 50 %%: %d machines, %v; want 5", len(page.Value), err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("emulate-defender: %v", err)
	}
}
