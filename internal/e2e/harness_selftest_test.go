package e2e

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests prove that the harness can fail: they run the browser against
// small pages of an httptest server (not postern) under the strict CSP that
// docs/security.md asks of postern, and check what it reports.

const strictCSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// selfTestPages maps paths to bodies; the server wraps each in a page.
var selfTestPages = map[string]string{
	"/clean":  `<h1>Clean</h1><p>Nothing to see.</p><script src="/ok.js"></script>`,
	"/inline": `<h1>Inline</h1><script>document.querySelector("h1").textContent = "ran";</script>`,
	"/throws": `<h1>Throws</h1><script src="/throw.js"></script>`,
	"/alerts": `<h1>Alerts</h1><script src="/alert.js"></script><script src="/broken.js"></script>`,
	"/a11y":   `<h1>Bad</h1><img src="/ok.png"><input type="text">`,
	"/form": `<h1>Create the first admin account</h1>
		<form method="post" action="/done">
		<label for="email">Email</label> <input id="email" name="email" type="email" value="old@example.com">
		<label for="pw">Password</label> <input id="pw" name="password" type="password">
		<label for="cloud">Cloud</label> <select id="cloud" name="cloud"><option value="commercial">Commercial</option><option value="gcc-high">GCC High</option></select>
		<label for="expires">Secret expires on</label> <input id="expires" name="expires" type="date">
		<label for="nowhere">Ghost</label>
		<button type="button" hidden>Create account</button>
		<button type="submit">Create account</button>
		</form>
		<form id="ajax"><button>Save</button></form><script src="/ajax.js"></script>`,
}

var selfTestScripts = map[string]string{
	"/ok.js":    `console.log("fine");`,
	"/throw.js": `console.error("boom from throw.js"); throw new Error("kaboom");`,
	"/alert.js": `alert("xss");`,
	// Like htmx, it handles the submission without leaving the page.
	"/ajax.js": `document.getElementById("ajax").addEventListener("submit", e => {
		e.preventDefault();
		setTimeout(() => document.querySelector("main").append("Saved without reload"), 200);
	});`,
}

// newSelfTestServer serves selfTestPages, selfTestScripts, /broken.js (a
// 500) and POST /done (the form's result) with the strict CSP.
func newSelfTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", strictCSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if js, ok := selfTestScripts[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, js)
			return
		}
		body, ok := selfTestPages[r.URL.Path]
		switch {
		case r.URL.Path == "/broken.js":
			w.Header().Set("Content-Type", "text/javascript")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "// broken")
			return
		case r.URL.Path == "/done" && r.Method == http.MethodPost:
			time.Sleep(300 * time.Millisecond) // ClickButton must wait for the next page
			body = fmt.Sprintf(`<nav aria-label="Main"><a href="/done" aria-current="page">Done</a> <a href="/clean">Clean</a></nav>
				<a href="/throws">Clean</a>
				<div role="status">Admin account created</div><h1>Done</h1><p>email=%s password=%s cloud=%s expires=%s</p>`,
				html.EscapeString(r.PostFormValue("email")), html.EscapeString(r.PostFormValue("password")),
				html.EscapeString(r.PostFormValue("cloud")), html.EscapeString(r.PostFormValue("expires")))
		case !ok:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%s</title></head><body><main>%s</main></body></html>`, r.URL.Path, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// kinds returns the kinds of the problems.
func kinds(ps []Problem) []ProblemKind {
	var ks []ProblemKind
	for _, p := range ps {
		ks = append(ks, p.Kind)
	}
	return ks
}

func TestHarnessReportsCSPViolation(t *testing.T) {
	b := newBrowser(t, newSelfTestServer(t).URL)
	b.Navigate("/inline")
	if got := b.Heading(); got != "Inline" {
		t.Errorf("h1 = %q, want %q: the inline script ran despite the CSP", got, "Inline")
	}
	got := b.takeProblems()
	if !slices.Equal(kinds(got), []ProblemKind{ProblemCSP}) {
		t.Fatalf("problems = %v, want one %s", got, ProblemCSP)
	}
	if !strings.Contains(got[0].Text, "inline script") || !strings.HasSuffix(got[0].URL, "/inline") {
		t.Errorf("problem = %v, want the inline script of /inline", got[0])
	}
}

func TestHarnessReportsScriptErrors(t *testing.T) {
	b := newBrowser(t, newSelfTestServer(t).URL)
	b.Navigate("/throws")
	got := b.takeProblems()
	if !slices.Equal(kinds(got), []ProblemKind{ProblemConsoleError, ProblemException}) {
		t.Fatalf("problems = %v, want a console error and an exception", got)
	}
	if !strings.Contains(got[0].Text, "boom from throw.js") {
		t.Errorf("console error = %v, want the text of console.error", got[0])
	}
	if !strings.Contains(got[1].Text, "kaboom") || !strings.Contains(got[1].URL, "/throw.js:1") {
		t.Errorf("exception = %v, want kaboom at /throw.js:1", got[1])
	}
}

func TestHarnessReportsServerErrorsAndDialogs(t *testing.T) {
	b := newBrowser(t, newSelfTestServer(t).URL)
	b.Navigate("/alerts") // would hang on the alert if the harness did not dismiss it
	b.WaitHeading("Alerts")
	got := b.takeProblems()
	slices.SortFunc(got, func(a, b Problem) int { return strings.Compare(string(a.Kind), string(b.Kind)) })
	if !slices.Equal(kinds(got), []ProblemKind{ProblemHTTP, ProblemDialog}) {
		t.Fatalf("problems = %v, want an HTTP 5xx and a dialog", got)
	}
	if !strings.HasPrefix(got[0].Text, "500") || !strings.HasSuffix(got[0].URL, "/broken.js") {
		t.Errorf("HTTP problem = %v, want 500 for /broken.js", got[0])
	}
	if got[1].Text != "alert: xss" {
		t.Errorf("dialog problem = %v, want alert: xss", got[1])
	}
}

func TestHarnessCleanPageHasNoProblems(t *testing.T) {
	b := newBrowser(t, newSelfTestServer(t).URL)
	b.Navigate("/clean")
	b.WaitText("Nothing to see.")
	if got := b.Problems(); len(got) != 0 {
		t.Errorf("problems = %v, want none", got)
	}
	t.Run("a11y", func(t *testing.T) { b.CheckA11y(t) })
	if got := b.Problems(); len(got) != 0 {
		t.Errorf("problems after axe-core = %v, want none: injecting axe must not break the CSP", got)
	}
}

func TestHarnessFormHelpers(t *testing.T) {
	b := newBrowser(t, newSelfTestServer(t).URL)
	b.Navigate("/form")
	if got, want := b.Heading(), "Create the first admin account"; got != want {
		t.Errorf("Heading() = %q, want %q", got, want)
	}
	b.ClickButton("Save") // must not wait for a page that never comes
	b.WaitText("Saved without reload")
	b.FillByLabel("Email", "admin@example.com") // replaces the value already there
	b.FillByLabel("Password", "correct-horse-battery-42")
	b.FillByLabel("Cloud", "GCC High")
	b.FillByLabel("Secret expires on", "2026-12-31")
	b.ClickButton("Create account") // the visible one of two
	if got := b.Path(); got != "/done" {
		t.Errorf("Path() right after ClickButton = %q, want /done", got)
	}
	b.WaitPath("/done")
	b.WaitHeading("Done")
	b.WaitFlash("admin account CREATED")
	b.WaitText("email=admin@example.com password=correct-horse-battery-42 cloud=gcc-high expires=2026-12-31")
	if got := b.AriaCurrent(`nav[aria-label="Main"]`); !slices.Equal(got, []string{"Done"}) {
		t.Errorf("AriaCurrent = %q, want [Done]", got)
	}
	b.ClickLink("Clean", `nav[aria-label="Main"]`) // not the one outside the nav
	if got := b.Heading(); got != "Clean" {
		t.Errorf("Heading() right after ClickLink = %q, want Clean", got)
	}
}

func TestHarnessHelpersExplainFailures(t *testing.T) {
	b := newBrowser(t, newSelfTestServer(t).URL)
	b.Timeout = 300 * time.Millisecond
	b.Navigate("/form")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unknown label", b.fillByLabel("Name", "x"), `no <label> with the text "Name"; labels: ["Email","Password","Cloud","Secret expires on","Ghost"]`},
		{"label without field", b.fillByLabel("Ghost", "x"), `the label "Ghost" is for #nowhere, which does not exist`},
		{"unknown option", b.fillByLabel("Cloud", "DoD"), `no option "DoD"; options: ["Commercial","GCC High"]`},
		{"unknown button", b.clickButton("Sign in"), `no button with the text "Sign in"; visible: ["Create account","Save"]`},
		{"missing text", b.waitText("Welcome"), `not on the page /form; h1: "Create the first admin account"`},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want it to contain %s", tc.name, tc.err, tc.want)
		}
	}
}

func TestHarnessCheckA11yFindsViolations(t *testing.T) {
	if _, err := axeSource(); err != nil {
		skipOrFail(t, "axe-core is not installed: %v", err)
	}
	b := newBrowser(t, newSelfTestServer(t).URL)
	b.Navigate("/a11y")
	vs, err := b.axe()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID+"/"+v.Impact)
	}
	for _, want := range []string{"image-alt/critical", "label/critical"} {
		if !slices.Contains(ids, want) {
			t.Errorf("axe-core violations = %v, want %s among them", ids, want)
		}
	}
	if got := b.Problems(); len(got) != 0 {
		t.Errorf("problems = %v, want none", got)
	}
	fake := &fakeTB{TB: t}
	b.CheckA11y(fake)
	if len(fake.errs) != 1 || !strings.Contains(fake.errs[0], "image-alt (critical, 1 nodes)") || !strings.Contains(fake.errs[0], "at img") {
		t.Errorf("CheckA11y errors = %q, want one listing image-alt at img", fake.errs)
	}
}

// fakeTB records the failures and cleanups of the harness, so that a test
// can check that the cleanup fails a test. The rest goes to the real test.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errs) > 0
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestHarnessCleanupFailsTestAndSavesScreenshot(t *testing.T) {
	artifacts := t.TempDir()
	t.Setenv(envArtifacts, artifacts)
	srv := newSelfTestServer(t)
	fake := &fakeTB{TB: t}
	b := newBrowser(fake, srv.URL)
	b.Navigate("/inline")
	fake.runCleanups()

	if len(fake.errs) != 1 || !strings.Contains(fake.errs[0], "browser: CSP violation: Executing inline script") {
		t.Errorf("cleanup errors = %q, want one about the CSP violation", fake.errs)
	}
	shot := filepath.Join(artifacts, "TestHarnessCleanupFailsTestAndSavesScreenshot-failure.png")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no failure screenshot: %v", err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("%s is not a PNG", shot)
	}
}
