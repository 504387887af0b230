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

	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/decisionlog"
	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/metrics"
	"postern/internal/policy"
	"postern/internal/secret"
	"postern/internal/signin"
	"postern/internal/syncer"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/internal/webhook"
	"postern/store"
)

type testEnv struct {
	t     testing.TB // a benchmark's too
	srv   *Server
	http  *httptest.Server
	store *store.Store
	clock *testkit.Clock // shared by the store, sessions and limiter
	logs  *testkit.Buffer

	worker *syncer.Worker
	fleet  *fleet.Holder
	policy *policy.Engine
	kr     *secret.Keyring // the keyring webhook secrets are sealed with
	// totp is the test admin's two-factor secret once a test enrolled
	// them: signedIn then answers the code step.
	totp string
}

// newEnv starts the real server over loopback on a fresh SQLite file.
func newEnv(t *testing.T, proxies ...netip.Prefix) *testEnv {
	return newEnvWith(t, "", proxies...)
}

// newAdminEnv is newEnv with the first admin account created (see
// signedIn).
func newAdminEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t)
	e.setup()
	return e
}

// newEnvWith points the Defender client at microsoftURL (login and API).
func newEnvWith(t *testing.T, microsoftURL string, proxies ...netip.Prefix) *testEnv {
	t.Helper()
	return newEnvDeps(t, microsoftURL, Deps{TrustedProxies: proxies})
}

// newEnvDeps is newEnvWith with what the caller sets in Deps beyond the
// parts and the clock.
func newEnvDeps(t *testing.T, microsoftURL string, deps Deps) *testEnv {
	t.Helper()
	clock := testkit.NewClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	logs := &testkit.Buffer{}
	p := newParts(t, partsOptions{
		store:       store.Options{Now: clock.Now},
		log:         slog.New(LogHandler(slog.NewTextHandler(logs, nil))), // as serve.go builds it
		now:         clock.Now,
		integration: integration.Options{LoginURL: microsoftURL, APIURL: microsoftURL},
		// No start-up sync: it could run just as a test configures the
		// integration, and the test's own run would then follow it,
		// unseen by a test waiting for the run after the last one.
		syncer: syncer.Options{Interval: time.Hour, FirstSync: time.Hour,
			List: defender.ListOptions{BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}},
	})
	// Loaded before the test acts: Run's start-up closes runs it finds
	// open, which would otherwise include a run the test has just begun.
	if err := p.worker.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	workerDone := make(chan error, 1)
	go func() { workerDone <- p.worker.Run(ctx) }()
	if err := p.pol.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.worker.OnSwap(func(_, _ *fleet.Snapshot) { p.pol.Recompute() })
	p.svc.Subscribe(p.worker.IntegrationChanged)
	p.svc.Subscribe(p.pol.IntegrationChanged)
	go p.pol.Run(ctx)
	deps.Now = clock.Now
	srv := p.server(deps)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { // before the store closes
		hs.Close()
		stop()
		<-workerDone
	})
	return &testEnv{t: t, srv: srv, http: hs, store: p.st, clock: clock, logs: logs, worker: p.worker, fleet: p.fleet, policy: p.pol, kr: p.kr}
}

// parts are the real components a console is built from, over a fresh
// store and keyring in the test's temporary directory.
type parts struct {
	st     *store.Store
	log    *slog.Logger
	svc    *integration.Service
	fleet  *fleet.Holder
	worker *syncer.Worker
	tokens *auth.Tokens
	pol    *policy.Engine
	hooks  *webhook.Service
	kr     *secret.Keyring
}

type partsOptions struct {
	store       store.Options
	log         *slog.Logger
	now         func() time.Time
	integration integration.Options
	syncer      syncer.Options
	// enabled overrides whether Defender counts as enabled for the checks;
	// nil asks the integration.
	enabled func(context.Context) (bool, error)
}

func newParts(t testing.TB, o partsOptions) parts {
	t.Helper()
	dir := t.TempDir()
	p := parts{st: teststore.OpenAt(t, filepath.Join(dir, "postern.db"), o.store), log: o.log, fleet: &fleet.Holder{}}
	kr, _, err := secret.LoadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	p.svc = integration.New(p.st, kr, p.log, o.integration)
	p.kr, p.hooks = kr, webhook.NewService(p.st, kr, p.log, nil)
	p.worker = syncer.New(p.st, p.svc, p.fleet, p.log, o.syncer)
	if p.tokens, err = auth.NewTokens(context.Background(), p.st, p.log, o.now); err != nil {
		t.Fatal(err)
	}
	if o.enabled == nil {
		o.enabled = p.svc.Enabled
	}
	p.pol = policy.New(p.st, p.fleet, o.enabled, time.Hour, p.log, o.now)
	p.pol.SetOutageGrace(p.svc.OutageGrace)
	return p
}

// server is the console over p; d adds what the caller sets beyond the
// parts (clock, trusted proxies).
func (p parts) server(d Deps) *Server {
	d.Store, d.Integration, d.Syncer, d.Fleet, d.Tokens, d.Policy, d.Logger = p.st, p.svc, p.worker, p.fleet, p.tokens, p.pol, p.log
	d.Webhooks = p.hooks
	d.MFA = auth.NewMFA(p.st, p.kr, nil, p.log, d.Now)
	if d.SignIn == nil {
		d.SignIn = signin.New(p.st, p.kr, p.log, signin.Options{})
	}
	d.Metrics = metrics.New(p.st, p.fleet, p.worker.Status, p.log)
	if d.Decisions == nil {
		// Every allow sampled; nothing flushes on its own: a test calls
		// Flush to write what was recorded.
		d.Decisions = decisionlog.New(p.st, 0, 1, p.log)
	}
	d.Metrics.Register(d.Decisions)
	return NewServer(d)
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
	host      string // the host and port to reach the server at (such as localhost:PORT); "" is its address
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
	base := c.env.http.URL
	if c.host != "" {
		base = "http://" + c.host
	}
	req, err := http.NewRequest(method, base+path, body)
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
	if res.Header.Get("Location") == codeStepPath && e.totp != "" {
		e.clock.Advance(30 * time.Second) // a step of its own: a code is accepted once
		res = c.post(codeStepPath, url.Values{"code": {totpCode(e.t, e.totp, e.clock.Now())}})
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		e.t.Fatalf("login: status %d location %q, want 303 to /", res.StatusCode, res.Header.Get("Location"))
	}
	return c
}

// audited lists the audit rows that f selects, newest first.
func (e *testEnv) audited(f audit.Filter) []audit.Entry {
	e.t.Helper()
	entries, _, err := e.store.AuditEntries(context.Background(), f)
	if err != nil {
		e.t.Fatalf("AuditEntries: %v", err)
	}
	return entries
}

// auditedAs lists the audit rows of one action, newest first.
func (e *testEnv) auditedAs(action string) []audit.Entry {
	e.t.Helper()
	return e.audited(audit.Filter{Action: &action})
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
