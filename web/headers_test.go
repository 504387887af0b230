package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"postern/internal/fleet"
	"postern/static"
)

func TestSecurityHeaders(t *testing.T) {
	e := newAdminEnv(t)
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

// The API's answers, read by gateways and scrapers, carry the headers that
// still matter outside a browser: nosniff, no caching, a CSP that allows
// nothing (not even framing) and the request id; success or refusal alike.
func TestAPISecurityHeaders(t *testing.T) {
	e := newAdminEnv(t)
	token := evToken(t, e)
	get := func(path string, h ...string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	answers := map[string]*http.Response{
		"evaluate":                      evPost(t, e, "Bearer "+token, strings.NewReader(`{"device":{"hostname":"laptop-1"}}`)).Response,
		"evaluate without token":        evPost(t, e, "", strings.NewReader(`{}`)).Response,
		"forward-auth":                  get(forwardAuthPath, hdrToken, token, hdrHostname, "laptop-1"),
		"forward-auth without identity": get(forwardAuthPath+"/app", hdrToken, token),
		"metrics":                       get("/metrics", "Authorization", "Bearer "+token),
	}
	for name, res := range answers {
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s (%d): CSP %q, want default-src and frame-ancestors 'none'", name, res.StatusCode, csp)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", name, got)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, got)
		}
		if res.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", name)
		}
	}
}

// The layout configures htmx for the CSP and carries no inline script or
// style.
func TestLayoutIsCSPClean(t *testing.T) {
	e := newAdminEnv(t)
	doc := parse(t, e.signedIn().get("/"))
	meta := doc.Find(`head meta[name="htmx-config"]`)
	var config map[string]any
	if err := json.Unmarshal([]byte(meta.AttrOr("content", "")), &config); meta.Length() != 1 || err != nil {
		t.Fatalf("layout has no htmx-config meta holding JSON (%d found, %v)", meta.Length(), err)
	}
	for key, want := range map[string]any{"includeIndicatorStyles": false, "allowEval": false, "historyCacheSize": 0.0} {
		if got, ok := config[key]; !ok || got != want {
			t.Errorf("htmx-config %s = %v, want %v", key, got, want)
		}
	}
	if styled := doc.Find("style, [style]"); styled.Length() != 0 {
		t.Errorf("layout has %d inline styles", styled.Length())
	}
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src := s.AttrOr("src", ""); src == "" || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("inline script: src %q, body %.80q", src, s.Text())
		}
	})
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

// Readiness means the enforcement API can answer: the database's state is
// reported with ?verbose but does not make the plain answer fail.
func TestHealth(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	wantStatus(t, c.get("/healthz"), http.StatusOK)
	wantStatus(t, c.get("/readyz"), http.StatusOK)
	if r := verboseReadiness(t, c, http.StatusOK); !r.Ready || !r.Database.OK {
		t.Errorf("readyz?verbose = %+v, want ready with the database answering", r)
	}
	e.store.Close()
	wantStatus(t, c.get("/readyz"), http.StatusOK)
	if r := verboseReadiness(t, c, http.StatusOK); !r.Ready || r.Database.OK || r.Database.Error == "" {
		t.Errorf("readyz?verbose with the database closed = %+v, want ready, the database reported down", r)
	}
	wantStatus(t, c.get("/healthz"), http.StatusOK)
}

func verboseReadiness(t *testing.T, c *client, status int) readiness {
	t.Helper()
	res := c.get("/readyz?verbose")
	wantStatus(t, res, status)
	var r readiness
	if err := json.Unmarshal([]byte(res.body), &r); err != nil {
		t.Fatalf("readyz?verbose: %v in %q", err, res.body)
	}
	return r
}

// Until the stored snapshot is in memory, readiness fails and the
// enforcement API asks gateways to retry instead of denying every device.
func TestNotReadyUntilTheSnapshotIsLoaded(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	token := evToken(t, e)
	loaded := e.srv.fleet
	e.srv.fleet = &fleet.Holder{}
	res := c.get("/readyz")
	wantStatus(t, res, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Error("readyz while loading has no Retry-After")
	}
	if r := verboseReadiness(t, c, http.StatusServiceUnavailable); r.Ready {
		t.Errorf("readyz?verbose while loading = %+v, want not ready", r)
	}
	res = evPost(t, e, "Bearer "+token, strings.NewReader(`{"device":{"hostname":"x"}}`))
	if msg := evError(t, res, http.StatusServiceUnavailable); !strings.Contains(msg, "loading") || res.Header.Get("Retry-After") == "" {
		t.Errorf("evaluate while loading: %q, Retry-After %q", msg, res.Header.Get("Retry-After"))
	}
	e.srv.fleet = loaded
	wantStatus(t, c.get("/readyz"), http.StatusOK)
	wantStatus(t, evPost(t, e, "Bearer "+token, strings.NewReader(`{"device":{"hostname":"x"}}`)), http.StatusOK)
}

// The shared header values are stored under their canonical names, and a
// handler adding to one cannot change what the next response sends.
func TestSecurityHeaderValuesAreCanonicalAndShared(t *testing.T) {
	for _, kv := range baseHeaders {
		if http.CanonicalHeaderKey(kv.name) != kv.name || len(kv.value) != cap(kv.value) {
			t.Errorf("%q: not canonical, or room to append in place", kv.name)
		}
	}
	for _, v := range [][]string{cspValue, noStore, hstsValue} {
		if len(v) != cap(v) {
			t.Errorf("%q has room to append in place", v)
		}
	}
	s := &Server{}
	e := echo.New()
	e.GET("/", s.securityHeaders(func(c echo.Context) error {
		c.Response().Header().Add("Cache-Control", "private")
		c.Response().Header().Add("X-Frame-Options", "SAMEORIGIN")
		return c.NoContent(http.StatusNoContent)
	}))
	for range 2 {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if got := rec.Header().Values("Cache-Control"); len(got) != 2 || got[0] != "no-store" {
			t.Fatalf("Cache-Control %q", got)
		}
	}
	if len(noStore) != 1 || baseHeaders[2].value[0] != "DENY" || len(baseHeaders[2].value) != 1 {
		t.Fatalf("a response changed the shared values: %q %q", noStore, baseHeaders[2].value)
	}
}
