package testkit

import (
	"os"
	"testing"
)

// EnvRequired names the variable that turns a missing tool (Chromium,
// axe-core, nginx, Caddy, PostgreSQL) from a skip into a failure. CI sets
// it to "1", so that a test it believes it ran cannot quietly not run.
const EnvRequired = "POSTERN_E2E_REQUIRED"

// Required reports whether missing tools must fail the tests.
func Required() bool { return os.Getenv(EnvRequired) == "1" }

// SkipOrFail skips the test with the message (a hint at how to get the
// tool), or fails it when Required.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format+" ("+EnvRequired+"=1)", args...)
	}
	t.Skipf(format, args...)
}
