package web

import (
	"net/http"
	"strings"
	"testing"

	"postern/static"
)

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.setup()
	anon := e.client()
	admin := e.signedIn()
	pages := []struct {
		c    *client
		path string
	}{
		{anon, "/login"}, {admin, "/"}, {admin, "/settings/integrations"}, {admin, "/audit"}, {anon, "/nope"},
	}
	for _, p := range pages {
		res := p.c.get(p.path)
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", p.path, csp, want)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval"} {
			if strings.Contains(csp, bad) {
				t.Errorf("%s: CSP allows %s", p.path, bad)
			}
		}
		want := map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-store",
			"X-Frame-Options":        "DENY",
		}
		for h, v := range want {
			if got := res.Header.Get(h); got != v {
				t.Errorf("%s: %s = %q, want %q", p.path, h, got, v)
			}
		}
		if hsts := res.Header.Get("Strict-Transport-Security"); hsts != "" {
			t.Errorf("%s: HSTS sent over plain HTTP: %q", p.path, hsts)
		}
		if res.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", p.path)
		}
	}
}

// The layout configures htmx for the CSP and carries no inline script or
// style.
func TestLayoutIsCSPClean(t *testing.T) {
	e := newEnv(t)
	e.setup()
	body := e.signedIn().get("/").body
	for _, want := range []string{`name="htmx-config"`, `&#34;includeIndicatorStyles&#34;:false`, `&#34;allowEval&#34;:false`, `&#34;historyCacheSize&#34;:0`} {
		if !strings.Contains(body, want) {
			t.Errorf("layout lacks %s", want)
		}
	}
	if strings.Contains(body, "<style") || strings.Contains(body, " style=") {
		t.Error("layout has inline styles")
	}
	for _, tag := range strings.Split(body, "<script")[1:] {
		if !strings.HasPrefix(strings.TrimSpace(tag), "src=") {
			t.Errorf("inline script: <script%.80s", tag)
		}
	}
}

func TestStaticAssetsAreHashedAndCached(t *testing.T) {
	e := newEnv(t)
	res := e.client().get(static.Path("css/app.css"))
	wantStatus(t, res, http.StatusOK)
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control = %q, want immutable", cc)
	}
	wantStatus(t, e.client().get("/static/css/app.css"), http.StatusNotFound)
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	wantStatus(t, c.get("/healthz"), http.StatusOK)
	wantStatus(t, c.get("/readyz"), http.StatusOK)
	e.store.Close()
	wantStatus(t, c.get("/readyz"), http.StatusServiceUnavailable)
	wantStatus(t, c.get("/healthz"), http.StatusOK)
}
