package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/metrics"
	"postern/internal/policy"
	"postern/internal/secret"
	"postern/internal/syncer"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

type testEnv struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	store *store.Store
	clock *testkit.Clock // shared by the store, sessions and limiter
	logs  *testkit.Buffer

	worker *syncer.Worker
	fleet  *fleet.Holder
	policy *policy.Engine
}

// newEnv starts the real server over loopback on a fresh SQLite file.
func newEnv(t *testing.T, proxies ...netip.Prefix) *testEnv {
	return newEnvWith(t, "", proxies...)
}

// newEnvWith points the Defender client at microsoftURL (login and API).
func newEnvWith(t *testing.T, microsoftURL string, proxies ...netip.Prefix) *testEnv {
	t.Helper()
	clock := testkit.NewClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	st := teststore.Open(t, store.Options{Now: clock.Now})
	logs := &testkit.Buffer{}
	log := slog.New(LogHandler(slog.NewTextHandler(logs, nil))) // as serve.go builds it
	kr, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	svc := integration.New(st, kr, log, integration.Options{LoginURL: microsoftURL, APIURL: microsoftURL})
	var devices fleet.Holder
	worker := syncer.New(st, svc, &devices, log, syncer.Options{Interval: time.Hour,
		List: defender.ListOptions{BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}})
	// Loaded before the test acts: Run's start-up closes runs it finds
	// open, which would otherwise include a run the test has just begun.
	if err := worker.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(ctx) }()
	tokens, err := auth.NewTokens(context.Background(), st, log, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(st, &devices, worker.Status, log)
	pol := policy.New(st, &devices, svc.Enabled, time.Hour, log, clock.Now)
	pol.SetOutageGrace(svc.OutageGrace)
	if err := pol.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	worker.OnSwap(func(_, _ *fleet.Snapshot) { pol.Recompute() })
	svc.Subscribe(worker.IntegrationChanged)
	svc.Subscribe(pol.IntegrationChanged)
	go pol.Run(ctx)
	srv := NewServer(Deps{Store: st, Integration: svc, Syncer: worker, Fleet: &devices, Tokens: tokens, Metrics: m, Policy: pol,
		Logger: log, Now: clock.Now, TrustedProxies: proxies})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { // before the store closes
		hs.Close()
		stop()
		<-workerDone
	})
	return &testEnv{t: t, srv: srv, http: hs, store: st, clock: clock, logs: logs, worker: worker, fleet: &devices, policy: pol}
}

const (
	testEmail    = "admin@example.com"
	testPassword = "correct-horse-battery-42"
)

// client is a browser-like client: it keeps cookies, does not follow
// redirects, and sends Fetch Metadata for same-origin requests unless told
// otherwise.
type client struct {
	env       *testEnv
	jar       *cookiejar.Jar
	hc        *http.Client
	fetchSite string // Sec-Fetch-Site to send; "" sends none
}

func (e *testEnv) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{env: e, jar: jar, fetchSite: "same-origin", hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	*http.Response
	body string
}

func (c *client) do(method, path string, form url.Values, header http.Header) response {
	c.env.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.env.http.URL+path, body)
	if err != nil {
		c.env.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.fetchSite != "" {
		req.Header.Set("Sec-Fetch-Site", c.fetchSite)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.env.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(b)}
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, nil, nil) }

func (c *client) post(path string, form url.Values) response {
	return c.do(http.MethodPost, path, form, nil)
}

func (c *client) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.env.http.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// setup creates the first admin through the real form.
func (e *testEnv) setup() {
	e.t.Helper()
	res := e.client().post("/setup", url.Values{"email": {testEmail}, "password": {testPassword}, "confirm": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("setup: status %d, want 303; body: %s", res.StatusCode, res.body)
	}
}

// signedIn returns a client signed in as the test admin.
func (e *testEnv) signedIn() *client {
	e.t.Helper()
	c := e.client()
	res := c.post("/login", url.Values{"email": {testEmail}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		e.t.Fatalf("login: status %d location %q, want 303 to /", res.StatusCode, res.Header.Get("Location"))
	}
	return c
}

func wantStatus(t *testing.T, res response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %.300s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, res.body)
	}
}

func wantRedirect(t *testing.T, res response, to string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != to {
		t.Fatalf("%s %s: status %d location %q, want 303 to %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, res.Header.Get("Location"), to)
	}
}

// sessionCookie is the plain-HTTP session cookie name.
const sessionCookie = "postern_session"
