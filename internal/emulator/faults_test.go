package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRateLimitPerMinute(t *testing.T) {
	e, clk := newEmu(t, 1)
	tok := e.Token()
	for i := range 100 {
		if w := get(e, "/api/machines", tok); w.Code != http.StatusOK {
			t.Fatalf("call %d: status %d", i+1, w.Code)
		}
	}
	w := get(e, "/api/machines", tok)
	wantAPIError(t, w, http.StatusTooManyRequests, "TooManyRequests")
	if got := w.Header().Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60 (all calls at the same instant)", got)
	}
	clk.Advance(30 * time.Second)
	if got := get(e, "/api/machines", tok).Header().Get("Retry-After"); got != "30" {
		t.Errorf("retrying early: Retry-After = %q, want 30", got)
	}
	clk.Advance(30 * time.Second)
	if w := get(e, "/api/machines", tok); w.Code != http.StatusOK {
		t.Errorf("after the window: status %d, want 200", w.Code)
	}
	if got := e.Stats().Throttled; got != 2 {
		t.Errorf("Throttled = %d, want 2", got)
	}
}

func TestRateLimitPerHour(t *testing.T) {
	e, clk := newEmu(t, 1)
	tok := e.Token()
	for minute := range 15 {
		for i := range 100 {
			if w := get(e, "/api/machines", tok); w.Code != http.StatusOK {
				t.Fatalf("minute %d call %d: status %d", minute, i+1, w.Code)
			}
		}
		clk.Advance(61 * time.Second)
	}
	w := get(e, "/api/machines", tok)
	wantAPIError(t, w, http.StatusTooManyRequests, "TooManyRequests")
	// The first 100 calls were at t0 and now is t0+15*61s: they expire at t0+1h.
	if got, want := w.Header().Get("Retry-After"), "2685"; got != want {
		t.Errorf("Retry-After = %q, want %q", got, want)
	}
}

func TestRateLimitSwitches(t *testing.T) {
	e, _ := newEmu(t, 1)
	tok := e.Token()
	e.SetFaults(Faults{NoRateLimit: true})
	for i := range 150 {
		if w := get(e, "/api/machines", tok); w.Code != http.StatusOK {
			t.Fatalf("NoRateLimit call %d: status %d", i+1, w.Code)
		}
	}
	e.SetFaults(Faults{RateLimitPerMinute: 2})
	get(e, "/api/machines", tok)
	get(e, "/api/machines", tok)
	if w := get(e, "/api/machines", tok); w.Code != http.StatusTooManyRequests {
		t.Errorf("RateLimitPerMinute 2: third call status %d, want 429", w.Code)
	}
}

func TestForcedThrottle(t *testing.T) {
	e, _ := newEmu(t, 1)
	tok := e.Token()
	e.SetFaults(Faults{Throttle: 2, RetryAfter: 7 * time.Second})
	for i := range 2 {
		w := get(e, "/api/machines", tok)
		wantAPIError(t, w, http.StatusTooManyRequests, "TooManyRequests")
		if got := w.Header().Get("Retry-After"); got != "7" {
			t.Errorf("call %d: Retry-After = %q, want 7", i+1, got)
		}
	}
	if w := get(e, "/api/machines", tok); w.Code != http.StatusOK {
		t.Errorf("third call: status %d, want 200", w.Code)
	}
	if left := e.Faults().Throttle; left != 0 {
		t.Errorf("Faults().Throttle = %d, want 0 after use", left)
	}

	e.SetFaults(Faults{Throttle: 1, RetryAfter: 7 * time.Second, RetryAfterHTTPDate: true})
	w := get(e, "/api/machines", tok)
	ra := w.Header().Get("Retry-After")
	when, err := http.ParseTime(ra)
	if w.Code != http.StatusTooManyRequests || err != nil || !when.Equal(t0.Add(7*time.Second)) {
		t.Errorf("HTTP-date form: status %d Retry-After %q (%v), want 429 and %s", w.Code, ra, err, t0.Add(7*time.Second).Format(http.TimeFormat))
	}
}

func TestServerFaults(t *testing.T) {
	e, _ := newEmu(t, 25)
	tok := e.Token()

	e.SetFaults(Faults{Fail5xx: 2})
	for _, want := range []int{500, 500, 200} {
		if w := get(e, "/api/machines", tok); w.Code != want {
			t.Errorf("Fail5xx: status %d, want %d", w.Code, want)
		} else if want == 500 {
			wantAPIError(t, w, 500, "InternalServerError")
		}
	}

	e.SetFaults(Faults{PageSize: 10, FailOnPage: 2})
	for _, tt := range []struct {
		path string
		want int
	}{{"/api/machines", 200}, {"/api/machines?$skip=10", 500}, {"/api/machines?$skip=10", 500}, {"/api/machines?$skip=20", 200}, {"/api/machines?$top=10&$skip=10", 500}} {
		if w := get(e, tt.path, tok); w.Code != tt.want {
			t.Errorf("FailOnPage 2: %s status %d, want %d", tt.path, w.Code, tt.want)
		}
	}
	e.SetFaults(Faults{PageSize: 10})
	if w := get(e, "/api/machines?$skip=10", tok); w.Code != 200 {
		t.Errorf("FailOnPage cleared: status %d, want 200", w.Code)
	}

	e.SetFaults(Faults{APIDown: true})
	wantAPIError(t, get(e, "/api/machines", tok), 503, "ServiceUnavailable")

	e.SetFaults(Faults{PageSize: 10, MalformedJSON: true, BadPage: 2})
	if w := get(e, "/api/machines", tok); !json.Valid(w.Body.Bytes()) {
		t.Errorf("MalformedJSON on page 2: page 1 is not valid JSON")
	}
	if w := get(e, "/api/machines?$skip=10", tok); w.Code != 200 || json.Valid(w.Body.Bytes()) {
		t.Errorf("MalformedJSON on page 2: status %d valid %v, want 200 and invalid JSON", w.Code, json.Valid(w.Body.Bytes()))
	}
	if s := e.Stats(); s.Errors5xx != 6 {
		t.Errorf("Errors5xx = %d, want 6", s.Errors5xx)
	}
}

func TestConnectionFaults(t *testing.T) {
	e, _ := newEmu(t, 25)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	tok := e.Token()
	call := func(path string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	e.SetFaults(Faults{TruncateBody: true})
	if resp, b, err := call("/api/machines"); err == nil {
		t.Errorf("TruncateBody: read %d bytes (status %d) without error, want an unexpected EOF", len(b), resp.StatusCode)
	} else if resp == nil || resp.StatusCode != 200 || len(b) == 0 {
		t.Errorf("TruncateBody: want 200 and part of the body before the error (resp %v, %d bytes, %v)", resp, len(b), err)
	}

	e.SetFaults(Faults{APIHangUp: true})
	if _, _, err := call("/api/machines"); err == nil {
		t.Errorf("APIHangUp: request succeeded, want a connection error")
	}

	e.SetFaults(Faults{SlowPage: 60 * time.Millisecond})
	start := time.Now()
	if resp, _, err := call("/api/machines"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("SlowPage: %v", err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("SlowPage: answered after %v, want at least 60ms", d)
	}
}

func TestListen(t *testing.T) {
	e, _ := newEmu(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	base, wait, err := Listen(ctx, "127.0.0.1:0", e)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(base+tokenPath(DemoTenantDomain), goodForm())
	if err != nil {
		t.Fatal(err)
	}
	var tok tokenV2
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/machines", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET machines through %s: %v %v", base, resp, err)
	}
	var p page
	json.NewDecoder(resp.Body).Decode(&p) // Go's transport asked for gzip and decompressed it
	resp.Body.Close()
	if len(p.Value) != 3 || !strings.HasPrefix(p.Context, "https://api.securitycenter.microsoft.com/") {
		t.Errorf("page through Listen: %d machines, context %q", len(p.Value), p.Context)
	}
	cancel()
	if err := wait(); err != nil {
		t.Errorf("wait() = %v, want nil after a clean shutdown", err)
	}
}

func TestListenShutdownInterruptsSlowPage(t *testing.T) {
	e, _ := newEmu(t, 3)
	e.SetFaults(Faults{SlowPage: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	base, wait, err := Listen(ctx, "127.0.0.1:0", e)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/machines", nil)
		req.Header.Set("Authorization", "Bearer "+e.Token())
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		errc <- err
	}()
	for e.Stats().APIRequests == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	if err := wait(); err != nil {
		t.Errorf("wait() = %v, want nil", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v with a slow page in flight", d)
	}
	if err := <-errc; err == nil {
		t.Errorf("the interrupted slow page looked like a complete answer")
	}
}

func TestBaseURL(t *testing.T) {
	for _, tt := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8081}, "http://127.0.0.1:8081"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, "http://127.0.0.1:80"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 9}, "http://[::1]:9"},
	} {
		if got := baseURL(tt.addr); got != tt.want {
			t.Errorf("baseURL(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
