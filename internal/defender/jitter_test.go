package defender_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/testkit"
)

// failingAPI serves emu, except that the first n API calls get status (429
// without a Retry-After header, or a 5xx).
func failingAPI(t *testing.T, emu *emulator.Emulator, status int, n int64) string {
	t.Helper()
	var left atomic.Int64
	left.Store(n)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && left.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(`{"error":{"code":"Injected","message":"injected by the test"}}`))
			return
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

// backoffWaits lists the machines once against an API whose first fails
// calls answer status, and returns the waits between attempts.
func backoffWaits(t *testing.T, status int, fails int64, o defender.ListOptions) ([]time.Duration, error) {
	t.Helper()
	sec := sentinel("jitter")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3, Seed: 5})
	emu.SetFaults(emulator.Faults{NoRateLimit: true})
	base := failingAPI(t, emu, status, fails)
	rec := &testkit.Sleeps{}
	o.Sleep = rec.Sleep
	_, err := newClient(t, creds(sec), base, nil).ListMachines(context.Background(), o, func([]defender.Machine) error { return nil })
	return rec.All(), err
}

// TestBackoffIsJittered holds security item 30's "capped jittered backoff"
// (docs/security.md#item-30): each wait lies in the upper half of
// min(MaxBackoff, BaseBackoff·2^(attempt-1)), the capped waits are spread
// over that range rather than repeated, and two runs do not retry in step.
func TestBackoffIsJittered(t *testing.T) {
	const base, maxB = 8 * time.Millisecond, 64 * time.Millisecond
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			o := defender.ListOptions{MaxAttempts: 100, BaseBackoff: base, MaxBackoff: maxB}
			const fails = 60
			first, err := backoffWaits(t, status, fails, o)
			if err != nil {
				t.Fatalf("ListMachines after %d failures = %v, want success", fails, err)
			}
			if len(first) != fails {
				t.Fatalf("%d waits for %d failed calls", len(first), fails)
			}
			var capped []time.Duration
			for i, d := range first {
				ceil := maxB
				if i < 4 {
					ceil = base << i
				}
				if d < ceil/2 || d > ceil {
					t.Errorf("wait %d = %v, want within [%v, %v]", i+1, d, ceil/2, ceil)
				}
				if ceil == maxB {
					capped = append(capped, d)
				}
			}
			// Random waits over [32 ms, 64 ms] in nanoseconds: repeats or a
			// lopsided spread would mean a fixed or degenerate jitter.
			low := 0
			for _, d := range capped {
				if d < maxB*3/4 {
					low++
				}
			}
			if low < len(capped)/5 || low > len(capped)*4/5 {
				t.Errorf("%d of %d capped waits in the lower half of the range: not spread", low, len(capped))
			}
			if n := len(slices.Compact(slices.Sorted(slices.Values(capped)))); n < len(capped)-2 {
				t.Errorf("only %d distinct values among %d capped waits", n, len(capped))
			}
			second, err := backoffWaits(t, status, fails, o)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(first, second) {
				t.Error("two runs waited exactly the same: the backoff is not random")
			}
		})
	}
}

// TestBackoffStopsAfterMaxAttempts: with no Retry-After the client gives up
// after the configured attempts, with one wait between each.
func TestBackoffStopsAfterMaxAttempts(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			waits, err := backoffWaits(t, status, 1000, defender.ListOptions{MaxAttempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
			if err == nil {
				t.Fatal("ListMachines succeeded against an API that always fails")
			}
			if len(waits) != 3 {
				t.Errorf("%d waits, want 3 (between 4 attempts)", len(waits))
			}
		})
	}
}
