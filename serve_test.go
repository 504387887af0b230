package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"postern/internal/testkit"
)

// With --log-format json every line on stdout is one JSON object, request
// lines and a handler's own lines carry the request id, and neither the
// master key nor a submitted password is ever written.
func TestServeLogsJSON(t *testing.T) {
	key := []byte("postern-test-master-key-32bytes!")
	const password = "json-log-sentinel-password-7f3a"
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json"}
	out, stop := startRun(t, args, envOf(map[string]string{"POSTERN_MASTER_KEY": base64.StdEncoding.EncodeToString(key)}))

	base := waitForJSONURL(t, out)
	// The first-admin form logs through the request's logger; Fetch Metadata
	// stands in for the CSRF token, as a browser's same-origin post does.
	form := url.Values{"email": {"admin@example.com"}, "password": {password}, "confirm": {password}}
	req, _ := http.NewRequest(http.MethodPost, base+"/setup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /setup = %d, want 303", res.StatusCode)
	}
	requestID := res.Header.Get("X-Request-Id")

	stop()

	logged := out.String()
	for name, s := range map[string]string{
		"master key (raw)":       string(key),
		"master key (base64)":    base64.StdEncoding.EncodeToString(key),
		"master key (base64url)": base64.RawURLEncoding.EncodeToString(key),
		"master key (hex)":       hex.EncodeToString(key),
		"password":               password,
	} {
		if strings.Contains(logged, s) {
			t.Errorf("the log contains the %s", name)
		}
	}
	byMsg := map[string][]map[string]any{}
	for i, line := range strings.Split(strings.TrimSuffix(logged, "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not JSON (%v): %s", i+1, err, line)
		}
		msg, _ := rec["msg"].(string)
		byMsg[msg] = append(byMsg[msg], rec)
	}
	if start := byMsg["starting postern"]; len(start) != 1 || jsonPath(start[0], "config", "log_format") != "json" {
		t.Errorf("start line %v does not show config.log_format=json", start)
	}
	if requestID == "" {
		t.Fatal("the response has no X-Request-Id")
	}
	for _, msg := range []string{"request", "first admin created"} {
		found := false
		for _, rec := range byMsg[msg] {
			found = found || rec["request_id"] == requestID
		}
		if !found {
			t.Errorf("no %q line with request_id %s; got %v", msg, requestID, byMsg[msg])
		}
	}
	if len(byMsg["stopped"]) != 1 {
		t.Errorf("no shutdown line in:\n%s", logged)
	}
}

// waitForJSONURL returns the console's URL from its JSON "ready" line.
func waitForJSONURL(t *testing.T, out *testkit.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			var rec struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "postern is ready" {
				return rec.URL
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server never said it was ready:\n%s", out)
	return ""
}

// jsonPath follows nested objects, e.g. a slog group.
func jsonPath(rec map[string]any, keys ...string) any {
	var v any = rec
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// serve returns only once everything it started has stopped: after run
// returns, neither the console nor the demo emulator answers.
func TestServeStopsEverythingItStarted(t *testing.T) {
	out, stop := startRun(t, []string{"--demo", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, envOf(nil))
	console := waitForURL(t, out)
	demo := waitFor(t, out, regexp.MustCompile(`Microsoft Defender emulator \(not Microsoft\) at (http://127\.0\.0\.1:\d+)`))[1]
	for _, u := range []string{console + "/readyz", demo + "/api/machines"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s while running: %v", u, err)
		}
		res.Body.Close()
	}
	stop()
	for _, u := range []string{console, demo} {
		if res, err := http.Get(u + "/"); err == nil {
			res.Body.Close()
			t.Errorf("%s still answers after run returned", u)
		}
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("no shutdown log line:\n%s", out)
	}
}

// A part that fails while the console runs stops the console and is what
// serve returns; one that fails after the stop began is only logged.
func TestSuperviseStopsTheGroupOnAFailure(t *testing.T) {
	out := &testkit.Buffer{}
	log := newLogger(out, "text")
	g, ctx := errgroup.WithContext(context.Background())
	stopped := make(chan struct{})
	g.Go(func() error { <-ctx.Done(); close(stopped); return nil })
	supervise(ctx, g, log, "sync worker", func() error { return errors.New("database is locked") })
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("a failed part did not stop the others")
	}
	if err := g.Wait(); err == nil || err.Error() != "sync worker: database is locked" {
		t.Fatalf("Wait = %v, want the failed part's error", err)
	}
	if !strings.Contains(out.String(), `msg="sync worker stopped" err="database is locked"`) {
		t.Errorf("the failure is not logged:\n%s", out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	g, ctx = errgroup.WithContext(ctx)
	cancel()
	supervise(ctx, g, log, "demo emulator", func() error { return errors.New("shutdown timed out") })
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait = %v, want nil for a failure after the stop", err)
	}
	if !strings.Contains(out.String(), `msg="demo emulator stopped" err="shutdown timed out"`) {
		t.Errorf("the late failure is not logged:\n%s", out)
	}
}
