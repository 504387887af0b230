package decisionlog_test

import (
	"fmt"
	"testing"

	"postern/internal/decisionlog"
	"postern/internal/posture"
)

// BenchmarkAllowed is what counting an allow costs each answer, from
// every CPU at once as the enforcement API's handlers do: 20 checks
// passed, each counted under its id.
func BenchmarkAllowed(b *testing.B) {
	l := decisionlog.New(&memStore{}, 0, decisionlog.DefaultSample, quiet)
	checks := make([]posture.CheckResult, 20)
	for i := range checks {
		checks[i] = posture.CheckResult{ID: int64(i + 1), Name: fmt.Sprint("Check ", i), Mode: posture.ModeEnforce, Result: posture.Pass}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allowed(checks)
		}
	})
}
