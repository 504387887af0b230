// Package e2e holds Postern's browser tests: they build the real program, run
// it on a free loopback port with a fresh data directory, and drive Debian's
// Chromium through the admin journeys with chromedp.
//
// The harness lives in the _test.go files of this package, so that only tests
// import it:
//
//   - [StartServer] runs the postern binary and waits for /readyz.
//   - [NewBrowser] opens a headless Chromium that records console errors,
//     uncaught exceptions, CSP violations, JavaScript dialogs and HTTP 5xx
//     responses; any of them fails the test at cleanup. On failure it saves a
//     full-page screenshot.
//   - The Browser methods (Navigate, FillByLabel, ClickButton, ClickLink,
//     WaitText, WaitPath, WaitHeading, …) find elements by their visible
//     labels and texts, the contract in docs/design.md, and wait for them.
//   - CheckA11y runs axe-core on the current page.
//
// Environment:
//
//	POSTERN_E2E_REQUIRED=1   fail (not skip) when Chromium or axe-core is missing; CI sets it
//	POSTERN_CHROMIUM=PATH    the browser to run (default /usr/bin/chromium)
//	POSTERN_E2E_ARTIFACTS=DIR where screenshots go (default <module root>/tmp/e2e-artifacts)
//
// Run them with `go test ./internal/e2e/`; `make test` installs Chromium and
// axe-core first.
package e2e
