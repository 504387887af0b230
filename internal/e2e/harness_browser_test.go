package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const (
	// browserTimeout bounds the whole life of a browser, and so of a journey.
	// A test deadline (go test -timeout) that comes sooner wins.
	browserTimeout = 3 * time.Minute
	// defaultActionTimeout bounds each wait of the helpers.
	defaultActionTimeout = 10 * time.Second
	// navigateTimeout bounds Navigate.
	navigateTimeout = 20 * time.Second
)

// ProblemKind names a kind of trouble that the browser saw.
type ProblemKind string

// The problems that fail a browser test.
const (
	ProblemConsoleError ProblemKind = "console error"      // console.error or a failed console.assert
	ProblemException    ProblemKind = "uncaught exception" // also an unhandled promise rejection
	ProblemCSP          ProblemKind = "CSP violation"      // a Content Security Policy violation
	ProblemSecurity     ProblemKind = "security"           // another error or warning of the browser's security log
	ProblemHTTP         ProblemKind = "HTTP 5xx"           // a response with status 500 or more
	ProblemDialog       ProblemKind = "JavaScript dialog"  // alert, confirm or prompt; dismissed
)

// Problem is something the browser saw that a healthy page never causes.
type Problem struct {
	Kind ProblemKind
	Text string
	URL  string // where it happened, when the browser said
}

func (p Problem) String() string {
	if p.URL == "" {
		return string(p.Kind) + ": " + p.Text
	}
	return string(p.Kind) + ": " + p.Text + " (" + p.URL + ")"
}

// Browser is a headless Chromium tab that records the [Problem]s of the
// pages it shows. Its helpers fail the test that created it, so use it from
// that test's goroutine; CheckA11y takes the test to fail explicitly, so that
// it can run in a subtest.
type Browser struct {
	// Timeout bounds each wait of the helpers; 10 s unless changed.
	Timeout time.Duration

	t    testing.TB
	base string          // base URL that Navigate's paths are relative to
	ctx  context.Context // the tab; ends at cleanup or after browserTimeout

	mu       sync.Mutex
	problems []Problem
	ignore   []func(Problem) bool
}

// NewBrowser starts a headless Chromium (/usr/bin/chromium, or
// $POSTERN_CHROMIUM) with a fresh profile and a 1280x900 window, for pages of
// srv. When the browser is missing, the test is skipped, or fails when
// POSTERN_E2E_REQUIRED=1.
//
// At cleanup, each recorded problem fails the test; then, if the test failed,
// a full-page screenshot is saved to the artifacts directory and its path is
// logged.
func NewBrowser(t testing.TB, srv *Server) *Browser {
	t.Helper()
	return newBrowser(t, srv.URL)
}

// newBrowser is NewBrowser for any base URL, such as an httptest server.
func newBrowser(t testing.TB, baseURL string) *Browser {
	t.Helper()
	exe := chromiumPath(t)
	b := &Browser{Timeout: defaultActionTimeout, t: t, base: strings.TrimSuffix(baseURL, "/")}

	timeout := browserTimeout
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			// Leave time for the cleanup: problems, screenshot, server output.
			timeout = min(timeout, time.Until(deadline)-10*time.Second)
		}
	}
	rootCtx, cancelRoot := context.WithTimeout(context.Background(), timeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, no-first-run, disable-sync, disable-background-networking, …
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(rootCtx, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	stop := func() { cancelTab(); cancelAlloc(); cancelRoot() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		t.Fatalf("starting %s: %v", exe, err)
	}
	b.ctx = ctx
	go dismissDialogs(ctx, chromedp.Events(ctx, page.JavascriptDialogOpening))

	t.Cleanup(func() {
		defer stop()
		for _, p := range b.takeProblems() {
			t.Errorf("browser: %s", p)
		}
		if t.Failed() {
			b.logFailureState()
		}
	})
	return b
}

// chromiumPath returns the browser to run, or skips (or fails) the test.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if exe := os.Getenv(envChromium); exe != "" {
		if _, err := os.Stat(exe); err != nil {
			t.Fatalf("%s=%s: %v", envChromium, exe, err)
		}
		return exe
	}
	if _, err := os.Stat(defaultChromium); err != nil {
		skipOrFail(t, "chromium not found at %s; run make test, which installs it", defaultChromium)
	}
	return defaultChromium
}

// dismissDialogs dismisses each JavaScript dialog, which would block the page
// otherwise. record reports it as a problem.
func dismissDialogs(ctx context.Context, dialogs iter.Seq2[page.EventJavascriptDialogOpening, error]) {
	for _, err := range dialogs {
		if err != nil {
			return
		}
		chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
	}
}

// record runs in the tab's event loop for each event, in the order of
// arrival; it must return fast and send no command.
func (b *Browser) record(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var url string
			if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
				f := st.CallFrames[0]
				url = fmt.Sprintf("%s:%d", f.URL, f.LineNumber+1)
			}
			b.add(Problem{Kind: ProblemConsoleError, Text: argsText(ev.Args), URL: url})
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			desc, _, _ := strings.Cut(d.Exception.Description, "\n")
			text += " " + desc
		}
		url := d.URL
		if url == "" && d.StackTrace != nil && len(d.StackTrace.CallFrames) > 0 {
			url = d.StackTrace.CallFrames[0].URL
		}
		if url != "" {
			url = fmt.Sprintf("%s:%d", url, d.LineNumber+1)
		}
		b.add(Problem{Kind: ProblemException, Text: text, URL: url})
	case *log.EventEntryAdded:
		// Chromium 156 reports each CSP violation as a Log entry with the
		// source "security" and the level "error" (see
		// TestHarnessReportsCSPViolation).
		e := ev.Entry
		if e.Source != log.EntrySourceSecurity && e.Source != log.EntrySourceViolation {
			return
		}
		if e.Level != log.EntryLevelError && e.Level != log.EntryLevelWarning {
			return
		}
		kind := ProblemSecurity
		if strings.Contains(e.Text, "Content Security Policy") {
			kind = ProblemCSP
		}
		b.add(Problem{Kind: kind, Text: e.Text, URL: e.URL})
	case *network.EventResponseReceived:
		if r := ev.Response; r.Status >= 500 {
			b.add(Problem{Kind: ProblemHTTP, Text: fmt.Sprintf("%d %s", r.Status, r.StatusText), URL: r.URL})
		}
	case *page.EventJavascriptDialogOpening:
		b.add(Problem{Kind: ProblemDialog, Text: string(ev.Type) + ": " + ev.Message, URL: ev.URL})
	}
}

func (b *Browser) add(p Problem) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, p)
}

// argsText renders the arguments of a console call roughly as DevTools does.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		var s string
		switch {
		case a.Type == runtime.RemoteObjectTypeString && json.Unmarshal([]byte(a.Value), &s) == nil:
		case a.Description != "":
			s = a.Description
		case len(a.Value) > 0:
			s = string(a.Value)
		default:
			s = string(a.Type)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// IgnoreProblems makes the browser disregard the problems for which match
// returns true, for a journey that provokes one on purpose. Use sparingly.
func (b *Browser) IgnoreProblems(match func(Problem) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ignore = append(b.ignore, match)
}

// Problems returns the problems recorded so far, without the ignored ones.
// The cleanup fails the test for each of them.
func (b *Browser) Problems() []Problem {
	return b.collect(false)
}

// takeProblems is Problems, and forgets them, so that the cleanup does not
// fail the test for them. The self-tests use it.
func (b *Browser) takeProblems() []Problem {
	return b.collect(true)
}

func (b *Browser) collect(clear bool) []Problem {
	// A round trip to the page: the events that the browser sent before its
	// answer have been recorded when it returns.
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("0"))
	cancel()

	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Problem
next:
	for _, p := range b.problems {
		for _, match := range b.ignore {
			if match(p) {
				continue next
			}
		}
		out = append(out, p)
	}
	if clear {
		b.problems = nil
	}
	return out
}

// Screenshot saves a full-page PNG of the current page as
// <artifacts>/<test name>-<name>.png and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	path, err := b.saveScreenshot(name)
	if err != nil {
		b.t.Fatalf("Screenshot(%q): %v", name, err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

func (b *Browser) saveScreenshot(name string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, defaultActionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		return "", err
	}
	path := artifactPath(b.t, name, ".png")
	return path, os.WriteFile(path, png, 0o644)
}

// logFailureState logs where the browser was and saves a screenshot.
func (b *Browser) logFailureState() {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	cancel()
	if err == nil {
		b.t.Logf("browser was at %s", loc)
	}
	if path, err := b.saveScreenshot("failure"); err != nil {
		b.t.Logf("no failure screenshot: %v", err)
	} else {
		b.t.Logf("failure screenshot: %s", path)
	}
}
