package syncer_test

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/syncer"
)

func TestSyncComplete(t *testing.T) {
	e := newEnv(t, envOptions{machines: 50})
	run := e.sync(syncer.TriggerManual)

	if run.Outcome != model.RunSuccess {
		t.Fatalf("outcome %q (%s: %s), want success", run.Outcome, run.ErrorCode, run.Error)
	}
	if run.Pages != 1 || run.Seen != 50 || run.Added != 50 || run.Changed != 0 || run.Removed != 0 {
		t.Errorf("run pages/seen/added/changed/removed = %d/%d/%d/%d/%d, want 1/50/50/0/0",
			run.Pages, run.Seen, run.Added, run.Changed, run.Removed)
	}
	if got := e.storedRun(run.ID); got.Outcome != model.RunSuccess || got.Seen != 50 || got.Added != 50 || got.Pages != 1 ||
		got.FinishedAt == nil || got.Trigger != syncer.TriggerManual {
		t.Errorf("sync_runs row = %+v, want a finished manual success with 1 page, 50 seen, 50 added", got)
	}
	if n := e.count("SELECT COUNT(*) FROM devices"); n != 50 {
		t.Errorf("devices rows = %d, want 50", n)
	}
	snap := e.holder.Load()
	if snap.Len() != 50 || snap.Active != 50 || snap.RunID != run.ID {
		t.Errorf("snapshot len %d, active %d, run %d; want 50, 50, %d", snap.Len(), snap.Active, snap.RunID, run.ID)
	}
	for _, id := range e.ids() {
		if _, ok := snap.ByID(id); !ok {
			t.Errorf("snapshot lacks machine %s", id)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM audit_log WHERE action = 'sync.run'"); n != 1 {
		t.Errorf("sync.run audit rows = %d, want 1", n)
	}

	// docs/security.md#item-35: the same listing again changes nothing, not
	// even a timestamp.
	before := e.dump()
	again := e.sync(syncer.TriggerManual)
	if again.Outcome != model.RunSuccess || again.Seen != 50 || again.Added != 0 || again.Changed != 0 || again.Removed != 0 {
		t.Errorf("second identical run: %s seen/added/changed/removed = %d/%d/%d/%d, want success 50/0/0/0",
			again.Outcome, again.Seen, again.Added, again.Changed, again.Removed)
	}
	if after := e.dump(); !slices.Equal(before, after) {
		t.Errorf("devices rows differ after an identical sync: %s", firstDiff(before, after))
	}
	if s2 := e.holder.Load(); s2.RunID != again.ID || s2.Len() != 50 {
		t.Errorf("second snapshot run %d len %d, want run %d len 50", s2.RunID, s2.Len(), again.ID)
	}
}

func TestSyncPagingTopSkip(t *testing.T) {
	// Real Defender sends no nextLink when $top is given
	// (docs/defender-api.md#paging): the client pages with $top/$skip until
	// a short page.
	e := newEnv(t, envOptions{machines: 45, list: defender.ListOptions{PageSize: 10}})
	e.setFaults(emulator.Faults{NoNextLink: true})
	var mu sync.Mutex
	var queries []string
	e.onRequest(func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/machines") {
			mu.Lock()
			queries = append(queries, r.URL.RawQuery)
			mu.Unlock()
		}
	})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Pages != 5 || run.Seen != 45 || run.Added != 45 {
		t.Fatalf("run %s pages/seen/added = %d/%d/%d, want success 5/45/45 (%s)", run.Outcome, run.Pages, run.Seen, run.Added, run.Error)
	}
	want := []string{"$top=10&$skip=0", "$top=10&$skip=10", "$top=10&$skip=20", "$top=10&$skip=30", "$top=10&$skip=40"}
	if !slices.Equal(queries, want) {
		t.Errorf("queries %q, want %q", queries, want)
	}
	if e.holder.Load().Len() != 45 || e.count("SELECT COUNT(*) FROM devices") != 45 {
		t.Errorf("snapshot %d, devices %d; want 45 each", e.holder.Load().Len(), e.count("SELECT COUNT(*) FROM devices"))
	}
}

func TestSyncPagingExactMultiple(t *testing.T) {
	// A fleet that is a multiple of the page size ends on an empty page.
	e := newEnv(t, envOptions{machines: 40, list: defender.ListOptions{PageSize: 10}})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Pages != 5 || run.Seen != 40 {
		t.Fatalf("run %s pages/seen = %d/%d, want success 5/40", run.Outcome, run.Pages, run.Seen)
	}
}

func TestSyncPagingNextLink(t *testing.T) {
	// The client always sends $top, and the emulator (like Defender)
	// answers $top without a nextLink, so Faults.PageSize alone changes
	// nothing: one page of everything.
	e := newEnv(t, envOptions{machines: 35})
	e.setFaults(emulator.Faults{PageSize: 10})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess || run.Pages != 1 || run.Seen != 35 {
		t.Fatalf("with $top: run %s pages/seen = %d/%d, want success 1/35", run.Outcome, run.Pages, run.Seen)
	}

	// A service that ignores $top and pages by nextLink (as observed for
	// requests without $top): strip $top before the emulator sees it. The
	// client must follow the links to the end.
	var mu sync.Mutex
	var queries []string
	e.onRequest(func(r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/machines") {
			return
		}
		q := r.URL.Query()
		q.Del("$top")
		r.URL.RawQuery = strings.ReplaceAll(q.Encode(), "%24", "$")
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
	})
	e.change()
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Pages != 4 || run.Seen != 35 || run.Added != 1 || run.Changed != 34 {
		t.Fatalf("nextLink run %s pages/seen/added/changed = %d/%d/%d/%d, want success 4/35/1/34 (%s)",
			run.Outcome, run.Pages, run.Seen, run.Added, run.Changed, run.Error)
	}
	want := []string{"$skip=0", "$skip=10", "$skip=20", "$skip=30"}
	if !slices.Equal(queries, want) {
		t.Errorf("queries after stripping $top = %q, want %q", queries, want)
	}
	// The machine that left has missed one run: still active.
	if s := e.holder.Load(); s.Len() != 36 || s.Active != 36 {
		t.Errorf("snapshot len %d active %d, want 36 36", s.Len(), s.Active)
	}
}

func TestSyncNextLinkLoopStops(t *testing.T) {
	// A nextLink that repeats ends the listing instead of looping.
	e := newEnv(t, envOptions{machines: 30})
	e.setFaults(emulator.Faults{PageSize: 10})
	e.onRequest(func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/machines") {
			r.URL.RawQuery = "" // every page is page 1, with the same nextLink
		}
	})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Pages != 2 || run.Seen != 10 {
		t.Fatalf("run %s pages/seen = %d/%d, want success 2/10", run.Outcome, run.Pages, run.Seen)
	}
}

func TestSyncDuplicateAcrossPages(t *testing.T) {
	e := newEnv(t, envOptions{machines: 45, list: defender.ListOptions{PageSize: 10}})
	e.setFaults(emulator.Faults{DuplicateAcrossPages: true})
	run := e.sync(syncer.TriggerManual)
	// Pages start at 0, 9, 19, 29, 39: one row repeats on each of pages
	// 2–5 and is dropped.
	if run.Outcome != model.RunSuccess || run.Pages != 5 || run.Seen != 45 || run.Added != 45 {
		t.Fatalf("run %s pages/seen/added = %d/%d/%d, want success 5/45/45", run.Outcome, run.Pages, run.Seen, run.Added)
	}
	if n := e.count("SELECT COUNT(*) FROM devices"); n != 45 {
		t.Errorf("devices = %d, want 45", n)
	}
	if e.holder.Load().Len() != 45 {
		t.Errorf("snapshot len %d, want 45", e.holder.Load().Len())
	}
}

// TestSyncSkipAcrossPages documents what a row that $skip never lists does.
// The run succeeds (nothing tells the client a row was skipped): the machine
// counts one miss. If the same row is skipped again on the next run it is
// marked removed although Defender still has it — the two-run rule only
// protects against a skip that moves, as it does over a live collection.
func TestSyncSkipAcrossPages(t *testing.T) {
	e := newEnv(t, envOptions{machines: 45, list: defender.ListOptions{PageSize: 10}})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess || run.Seen != 45 {
		t.Fatalf("clean run %s seen %d, want success 45", run.Outcome, run.Seen)
	}
	skipped := e.ids()[10] // page 2 ($skip=10) starts at row 11

	e.setFaults(emulator.Faults{SkipAcrossPages: true})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Pages != 5 || run.Seen != 44 || run.Removed != 0 {
		t.Fatalf("skip run %s pages/seen/removed = %d/%d/%d, want success 5/44/0", run.Outcome, run.Pages, run.Seen, run.Removed)
	}
	if d := e.device(skipped); d.MissedRuns != 1 || d.RemovedAt != nil {
		t.Errorf("skipped machine after one skip: missed %d, removed %v; want 1, nil", d.MissedRuns, d.RemovedAt)
	}
	if d, _ := e.holder.Load().ByID(skipped); d == nil || d.Removed {
		t.Errorf("skipped machine in snapshot = %+v, want present and not removed", d)
	}

	run = e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Removed != 1 {
		t.Fatalf("second skip run %s removed %d, want success 1", run.Outcome, run.Removed)
	}
	if d := e.device(skipped); d.RemovedAt == nil {
		t.Errorf("a row skipped twice in a row is not marked removed; the documented behaviour changed")
	}

	// Listed again: it comes back.
	e.setFaults(emulator.Faults{})
	run = e.sync(syncer.TriggerManual)
	if d := e.device(skipped); run.Outcome != model.RunSuccess || d.RemovedAt != nil || d.MissedRuns != 0 {
		t.Errorf("after a clean run: outcome %s, removed %v, missed %d; want success, nil, 0", run.Outcome, d.RemovedAt, d.MissedRuns)
	}
}

// failure is one fault that must leave everything as it was (docs/security.md#item-33).
type failure struct {
	name     string
	faults   emulator.Faults
	list     defender.ListOptions
	code     string // substring of the recorded error code
	sleeps   int    // backoff waits expected; -1 → not checked
	attempts int    // API requests expected in the failed run; 0 → not checked
}

func TestSyncFailureKeepsPreviousData(t *testing.T) {
	cases := []failure{
		{name: "5xx storm beyond MaxAttempts", faults: emulator.Faults{Fail5xx: 1000}, list: defender.ListOptions{MaxAttempts: 4},
			code: "500", sleeps: 3, attempts: 4},
		{name: "5xx on page 2", faults: emulator.Faults{FailOnPage: 2}, code: "500", sleeps: 5, attempts: 1 + 6},
		{name: "malformed JSON on page 2", faults: emulator.Faults{MalformedJSON: true, BadPage: 2}, code: "invalid JSON", sleeps: 0, attempts: 2},
		{name: "truncated body on page 2", faults: emulator.Faults{TruncateBody: true, BadPage: 2}, code: "network", sleeps: 5, attempts: 1 + 6},
		{name: "service down", faults: emulator.Faults{APIDown: true}, code: "503", sleeps: 5, attempts: 6},
		{name: "HTML 404 from a proxy", faults: emulator.Faults{Realism: emulator.Realism{HTML404: true}}, code: "404 HTML", sleeps: 0, attempts: 1},
		{name: "JSON 404 on page 2", faults: emulator.Faults{Realism: emulator.Realism{NotFoundOnPage: 2}}, code: "404 ResourceNotFound", sleeps: 0, attempts: 2},
		{name: "most of a page unreadable", faults: emulator.Faults{Realism: emulator.Realism{UnreadableEvery: 1}}, code: "unreadable page", sleeps: 0, attempts: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.list.PageSize = 10
			e := newEnv(t, envOptions{machines: 45, list: c.list})
			first := e.sync(syncer.TriggerManual)
			if first.Outcome != model.RunSuccess {
				t.Fatalf("first run %s: %s", first.Outcome, first.Error)
			}
			e.change()
			before := e.state()
			e.setFaults(c.faults)
			e.sleeps.Reset()
			e.emu.ResetStats()

			run := e.sync(syncer.TriggerManual)
			if run.Outcome != model.RunFailed {
				t.Fatalf("outcome %q, want failed", run.Outcome)
			}
			stored := e.storedRun(run.ID)
			if stored.Outcome != model.RunFailed || strings.TrimSpace(stored.Error) == "" || !strings.Contains(stored.ErrorCode, c.code) {
				t.Errorf("sync_runs row: outcome %q, error %q, code %q; want failed, a message, a code containing %q",
					stored.Outcome, stored.Error, stored.ErrorCode, c.code)
			}
			if stored.Added != 0 || stored.Changed != 0 || stored.Removed != 0 || stored.Seen != 0 {
				t.Errorf("failed run counts seen/added/changed/removed %d/%d/%d/%d, want 0s", stored.Seen, stored.Added, stored.Changed, stored.Removed)
			}
			for _, bad := range []string{"defender:", "status ", "context", emulator.DemoClientSecret} {
				if strings.Contains(stored.Error, bad) {
					t.Errorf("the recorded error %q is not plain words (contains %q)", stored.Error, bad)
				}
			}
			e.assertUnchanged(before)
			if c.sleeps >= 0 {
				// The antivirus health report, read beside the listing, may
				// wait out the same fault until the failed listing cancels
				// it; the listing's own retries are counted exactly below.
				w := e.sleeps.All()
				if len(w) < c.sleeps {
					t.Errorf("backoff waits %v, want %d", w, c.sleeps)
				}
				for _, d := range w {
					if d <= 0 || d > 5*time.Millisecond {
						t.Errorf("backoff wait %v outside (0, MaxBackoff 5ms]", d)
					}
				}
			}
			if st := e.emu.Stats(); c.attempts > 0 && machineRequests(st) != c.attempts {
				t.Errorf("machine list requests in the failed run = %d, want %d", machineRequests(st), c.attempts)
			}
			if s := e.w.Status(); s.ConsecutiveFailures != 1 || s.LastSuccess == nil || s.LastSuccess.ID != first.ID {
				t.Errorf("status failures %d, last success %v; want 1, run %d", s.ConsecutiveFailures, s.LastSuccess, first.ID)
			}

			// Healthy again: the change goes through.
			e.setFaults(emulator.Faults{})
			ok := e.sync(syncer.TriggerManual)
			if ok.Outcome != model.RunSuccess || ok.Added != 1 || ok.Changed != 44 {
				t.Errorf("recovery run %s added/changed %d/%d, want success 1/44", ok.Outcome, ok.Added, ok.Changed)
			}
		})
	}
}

func TestSyncNoConsentStopsCalls(t *testing.T) {
	e := newEnv(t, envOptions{machines: 20})
	first := e.sync(syncer.TriggerManual)
	if first.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", first.Outcome)
	}
	e.change()
	before := e.state()

	// Consent is revoked: new tokens carry no roles. Move the emulator's
	// clock past the cached token's expiry so the client must fetch one.
	e.setFaults(emulator.Faults{NoConsent: true})
	e.clk.Advance(2 * time.Hour)
	run := e.sync(syncer.TriggerSchedule)
	if run.Outcome != model.RunFailed || !strings.Contains(run.ErrorCode, "403") || run.Error == "" {
		t.Fatalf("run %s code %q error %q, want failed with 403", run.Outcome, run.ErrorCode, run.Error)
	}
	if !strings.Contains(run.Error, "Machine.Read.All") {
		t.Errorf("error %q does not name the missing permission", run.Error)
	}
	e.assertUnchanged(before)
	s := e.w.Status()
	if !s.Blocked || !s.Degraded(time.Now()) {
		t.Errorf("status blocked %v degraded %v, want both", s.Blocked, s.Degraded(time.Now()))
	}

	// Even with consent granted again, nothing calls Microsoft until the
	// credentials change: neither the schedule nor Sync now.
	e.setFaults(emulator.Faults{})
	e.emu.ResetStats()
	for _, reason := range []string{syncer.TriggerSchedule, syncer.TriggerManual, syncer.TriggerStartup} {
		e.idle(reason)
	}
	if st := e.emu.Stats(); st.APIRequests != 0 || st.TokenRequests != 0 {
		t.Errorf("while blocked: %d API and %d token requests, want none", st.APIRequests, st.TokenRequests)
	}
	if s := e.w.Status(); s.LastRun == nil || s.LastRun.ID != run.ID {
		t.Errorf("a blocked trigger recorded a run: last run %+v", s.LastRun)
	}
	e.assertUnchanged(before)

	// A restart does not lift it either.
	e.restart()
	before = e.state() // the restart loaded its own copy of the snapshot
	if s := e.w.Status(); !s.Blocked {
		t.Errorf("after a restart the status is not blocked")
	}
	for _, reason := range []string{syncer.TriggerStartup, syncer.TriggerSchedule, syncer.TriggerManual} {
		e.idle(reason)
	}
	if st := e.emu.Stats(); st.APIRequests != 0 || st.TokenRequests != 0 {
		t.Errorf("blocked, after a restart: %d API and %d token requests, want none", st.APIRequests, st.TokenRequests)
	}
	e.assertUnchanged(before)

	// Saving the credentials again (re-validated) lifts the block.
	e.configure()
	e.emu.ResetStats()
	ok := e.sync(syncer.TriggerManual)
	if ok.Outcome != model.RunSuccess || ok.Added != 1 {
		t.Fatalf("after Configure: run %s added %d (%s), want success 1", ok.Outcome, ok.Added, ok.Error)
	}
	if st := e.emu.Stats(); st.APIRequests == 0 {
		t.Errorf("no API request after the credentials changed")
	}
	if s := e.w.Status(); s.Blocked {
		t.Errorf("still blocked after a successful run")
	}
}

func TestSyncCancel(t *testing.T) {
	e := newEnv(t, envOptions{machines: 50, list: defender.ListOptions{PageSize: 10}})
	if first := e.sync(syncer.TriggerManual); first.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", first.Outcome)
	}
	e.change()
	before := e.state()
	e.setFaults(emulator.Faults{SlowPage: 200 * time.Millisecond})
	status := e.w.Status()
	e.w.Trigger(syncer.TriggerManual)
	e.waitFor("the first page to be staged", func() bool { s := e.w.Status(); return s.Running && s.Fetched >= 10 })
	e.w.Cancel()
	run := e.waitRun(status)
	if run.Outcome != model.RunCancelled || run.ErrorCode != "cancelled" || run.Error == "" {
		t.Fatalf("run %s code %q error %q, want cancelled", run.Outcome, run.ErrorCode, run.Error)
	}
	if got := e.storedRun(run.ID); got.Outcome != model.RunCancelled {
		t.Errorf("sync_runs outcome %q, want cancelled", got.Outcome)
	}
	e.assertUnchanged(before)
	if s := e.w.Status(); s.ConsecutiveFailures != 0 {
		t.Errorf("a cancelled run counts as a failure: %d", s.ConsecutiveFailures)
	}
	e.w.Cancel() // nothing in flight: a no-op
}

func TestSyncShutdownDuringRun(t *testing.T) {
	e := newEnv(t, envOptions{machines: 50, list: defender.ListOptions{PageSize: 10}})
	first := e.sync(syncer.TriggerManual)
	if first.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", first.Outcome)
	}
	e.change()
	before := e.state()
	e.setFaults(emulator.Faults{SlowPage: 200 * time.Millisecond})
	e.w.Trigger(syncer.TriggerManual)
	e.waitFor("the first page to be staged", func() bool { s := e.w.Status(); return s.Running && s.Fetched >= 10 })
	start := time.Now()
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of shutdown")
	}
	e.cancel = nil
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %v to return after shutdown", d)
	}
	last, err := e.st.LastRun(context.Background(), integration.Name)
	if err != nil {
		t.Fatal(err)
	}
	if last.ID == first.ID || last.Outcome != model.RunCancelled || last.FinishedAt == nil || last.Error == "" {
		t.Errorf("last run %+v, want the interrupted run recorded as cancelled", last)
	}
	if n := e.count("SELECT COUNT(*) FROM sync_runs WHERE outcome = 'running'"); n != 0 {
		t.Errorf("%d runs still 'running' after shutdown", n)
	}
	e.assertUnchanged(before)
}

func TestSyncRetryAfter(t *testing.T) {
	for _, httpDate := range []bool{false, true} {
		name := map[bool]string{false: "seconds", true: "HTTP date"}[httpDate]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{machines: 20})
			e.setFaults(emulator.Faults{Throttle: 2, RetryAfter: 3 * time.Second, RetryAfterHTTPDate: httpDate})
			run := e.sync(syncer.TriggerManual)
			if run.Outcome != model.RunSuccess || run.ThrottledWaits != 2 || run.Seen != 20 {
				t.Fatalf("run %s throttled %d seen %d (%s), want success 2 20", run.Outcome, run.ThrottledWaits, run.Seen, run.Error)
			}
			if got := e.storedRun(run.ID).ThrottledWaits; got != 2 {
				t.Errorf("sync_runs throttled_waits = %d, want 2", got)
			}
			w := e.sleeps.All()
			if len(w) != 2 {
				t.Fatalf("waits %v, want 2", w)
			}
			for _, d := range w {
				if d < 3*time.Second {
					t.Errorf("waited %v after Retry-After 3 s", d)
				}
			}
			if st := e.emu.Stats(); st.Throttled != 2 {
				t.Errorf("emulator sent %d 429s, want 2", st.Throttled)
			}
		})
	}
}

func TestSyncThrottledPastMaxAttempts(t *testing.T) {
	e := newEnv(t, envOptions{machines: 20, list: defender.ListOptions{MaxAttempts: 3}})
	if first := e.sync(syncer.TriggerManual); first.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", first.Outcome)
	}
	before := e.state()
	e.sleeps.Reset()
	e.setFaults(emulator.Faults{Throttle: 100, RetryAfter: 10 * time.Second})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunFailed || !strings.Contains(run.ErrorCode, "429") || run.ThrottledWaits != 2 {
		t.Errorf("run %s code %q throttled %d, want failed 429 after 2 waits", run.Outcome, run.ErrorCode, run.ThrottledWaits)
	}
	if w := e.sleeps.All(); len(w) != 2 || w[0] < 10*time.Second {
		t.Errorf("waits %v, want two of at least 10 s", w)
	}
	e.assertUnchanged(before)
}

func TestSyncTokenRefreshOn401(t *testing.T) {
	e := newEnv(t, envOptions{machines: 35, list: defender.ListOptions{PageSize: 10}})
	if first := e.sync(syncer.TriggerManual); first.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", first.Outcome)
	}
	// The cached token dies between pages 1 and 2 of the next run: the
	// emulator's clock jumps past its expiry while the client still thinks
	// it is good.
	var mu sync.Mutex
	pages := 0
	var statuses []string
	e.onRequest(func(r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/machines") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		pages++
		if pages == 2 {
			e.clk.Advance(2 * time.Hour)
		}
		statuses = append(statuses, r.URL.RawQuery)
	})
	e.emu.ResetStats()
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Seen != 35 || run.Pages != 4 {
		t.Fatalf("run %s seen %d pages %d (%s %s), want success 35 4", run.Outcome, run.Seen, run.Pages, run.ErrorCode, run.Error)
	}
	st := e.emu.Stats()
	if st.TokenRequests != 1 || st.TokensIssued != 1 {
		t.Errorf("token requests %d (issued %d), want exactly 1 refresh", st.TokenRequests, st.TokensIssued)
	}
	if machineRequests(st) != 5 {
		t.Errorf("API requests %d, want 5 (4 pages + 1 retry of page 2): %q", st.APIRequests, statuses)
	}
	if w := e.sleeps.All(); len(w) != 0 {
		t.Errorf("a 401 led to backoff waits %v", w)
	}
}

func TestSync401TwiceFails(t *testing.T) {
	// A token refused again right after a refresh is not retried forever.
	e := newEnv(t, envOptions{machines: 20})
	if first := e.sync(syncer.TriggerManual); first.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", first.Outcome)
	}
	before := e.state()
	e.onRequest(func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/machines") {
			r.Header.Set("Authorization", "Bearer not-a-token")
		}
	})
	e.emu.ResetStats()
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunFailed || !strings.Contains(run.ErrorCode, "401") {
		t.Errorf("run %s code %q, want failed 401", run.Outcome, run.ErrorCode)
	}
	if st := e.emu.Stats(); st.TokenRequests != 1 || machineRequests(st) != 2 {
		t.Errorf("token requests %d, machine list requests %d; want 1 and 2", st.TokenRequests, machineRequests(st))
	}
	e.assertUnchanged(before)
}

func TestSyncReusesToken(t *testing.T) {
	// docs/security.md#item-28: one token for two runs within its lifetime.
	e := newEnv(t, envOptions{machines: 20})
	e.emu.ResetStats() // Configure's validation used a client of its own
	for i := range 2 {
		if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess {
			t.Fatalf("run %d: %s", i+1, run.Outcome)
		}
	}
	if st := e.emu.Stats(); st.TokenRequests != 1 {
		t.Errorf("two runs made %d token requests, want 1", st.TokenRequests)
	}
	e.emu.ResetStats()
	if run := e.sync(syncer.TriggerSchedule); run.Outcome != model.RunSuccess {
		t.Fatalf("third run: %s", run.Outcome)
	}
	if st := e.emu.Stats(); st.TokenRequests != 0 {
		t.Errorf("a run with an unexpired token made %d token requests, want 0", st.TokenRequests)
	}
}

func TestSyncRemovedAfterTwoMisses(t *testing.T) {
	e := newEnv(t, envOptions{machines: 20})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", run.Outcome)
	}
	gone := e.ids()[3]
	var kept emulator.Machine
	e.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		kept = ms[3]
		return append(ms[:3:3], ms[4:]...)
	})

	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Seen != 19 || run.Removed != 0 {
		t.Fatalf("first miss: run %s seen %d removed %d, want success 19 0", run.Outcome, run.Seen, run.Removed)
	}
	if d := e.device(gone); d.RemovedAt != nil || d.MissedRuns != 1 {
		t.Errorf("after one miss: removed %v, missed %d; want active with 1 miss", d.RemovedAt, d.MissedRuns)
	}
	if d, ok := e.holder.Load().ByID(gone); !ok || d.Removed {
		t.Errorf("after one miss the snapshot has %v, want it active", d)
	}

	run = e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Removed != 1 {
		t.Fatalf("second miss: run %s removed %d, want success 1", run.Outcome, run.Removed)
	}
	d := e.device(gone)
	if d.RemovedAt == nil || d.MissedRuns != 2 {
		t.Errorf("after two misses: removed %v, missed %d; want removed with 2 misses", d.RemovedAt, d.MissedRuns)
	}
	snap := e.holder.Load()
	if sd, ok := snap.ByID(gone); !ok || !sd.Removed {
		t.Errorf("after two misses the snapshot has %v, want it present and Removed", sd)
	}
	if snap.Len() != 20 || snap.Active != 19 {
		t.Errorf("snapshot len %d active %d, want 20 19", snap.Len(), snap.Active)
	}
	if n := e.count("SELECT COUNT(*) FROM devices"); n != 20 {
		t.Errorf("devices = %d, want 20: rows are never deleted", n)
	}

	// A third miss changes nothing more.
	removedAt := *d.RemovedAt
	if run := e.sync(syncer.TriggerManual); run.Removed != 0 {
		t.Errorf("third miss counted %d removals, want 0", run.Removed)
	}
	if d := e.device(gone); d.RemovedAt == nil || !d.RemovedAt.Equal(removedAt) {
		t.Errorf("removed_at moved on a further miss: %v → %v", removedAt, d.RemovedAt)
	}

	// It reappears: un-removed, misses forgotten.
	e.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine { return append(ms, kept) })
	run = e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Changed != 1 || run.Added != 0 {
		t.Errorf("reappearance: run %s changed %d added %d, want success 1 0", run.Outcome, run.Changed, run.Added)
	}
	if d := e.device(gone); d.RemovedAt != nil || d.MissedRuns != 0 {
		t.Errorf("after reappearing: removed %v, missed %d; want nil, 0", d.RemovedAt, d.MissedRuns)
	}
	if sd, _ := e.holder.Load().ByID(gone); sd == nil || sd.Removed {
		t.Errorf("after reappearing the snapshot has %v, want it active", sd)
	}
}

func TestSyncMissThenBackForgetsMiss(t *testing.T) {
	e := newEnv(t, envOptions{machines: 10})
	e.sync(syncer.TriggerManual)
	id := e.ids()[0]
	all := e.emu.Machines()
	e.emu.SetMachines(all[1:])
	e.sync(syncer.TriggerManual)
	e.emu.SetMachines(all)
	e.sync(syncer.TriggerManual)
	e.emu.SetMachines(all[1:])
	run := e.sync(syncer.TriggerManual)
	if d := e.device(id); d.RemovedAt != nil || d.MissedRuns != 1 || run.Removed != 0 {
		t.Errorf("miss, back, miss: removed %v missed %d (run removed %d); want not removed, 1 miss", d.RemovedAt, d.MissedRuns, run.Removed)
	}
}

func TestSyncBreaker(t *testing.T) {
	e := newEnv(t, envOptions{machines: 10, list: defender.ListOptions{MaxAttempts: 2}})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", run.Outcome)
	}
	e.setFaults(emulator.Faults{APIDown: true})
	for i := 1; i <= 5; i++ {
		run := e.sync(syncer.TriggerSchedule)
		if run.Outcome != model.RunFailed {
			t.Fatalf("run %d: %s, want failed", i, run.Outcome)
		}
		s := e.w.Status()
		if s.ConsecutiveFailures != i {
			t.Errorf("after %d failures ConsecutiveFailures = %d", i, s.ConsecutiveFailures)
		}
		wantOpen := i >= 5
		if s.BreakerOpen != wantOpen || s.Degraded(time.Now()) != wantOpen {
			t.Errorf("after %d failures: breaker %v degraded %v, want %v", i, s.BreakerOpen, s.Degraded(time.Now()), wantOpen)
		}
		delay := time.Until(s.NextRun)
		switch {
		case !wantOpen && delay > time.Hour:
			t.Errorf("after %d failures the next run is in %v, want the interval (1h)", i, delay)
		case wantOpen && delay <= time.Hour:
			t.Errorf("breaker open but the next run is in %v, want longer than the interval (1h)", delay)
		}
	}
	e.setFaults(emulator.Faults{})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess {
		t.Fatalf("recovery run %s", run.Outcome)
	}
	s := e.w.Status()
	if s.BreakerOpen || s.Degraded(time.Now()) || s.ConsecutiveFailures != 0 {
		t.Errorf("after a success: breaker %v degraded %v failures %d, want closed", s.BreakerOpen, s.Degraded(time.Now()), s.ConsecutiveFailures)
	}
	if d := time.Until(s.NextRun); d > time.Hour {
		t.Errorf("after a success the next run is in %v, want the interval", d)
	}
}

func TestRunMarksInterrupted(t *testing.T) {
	e := newEnv(t, envOptions{machines: 10, noStart: true})
	ctx := context.Background()
	// What a kill -9 mid-sync leaves: a 'running' row and staged pages.
	left, err := e.st.StartRun(ctx, integration.Name, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.StageDevices(ctx, left.ID, []model.Device{{ID: "staged-but-never-applied", Host: "x", OSPlatform: "Windows11",
		HealthStatus: "Active", OnboardingStatus: "Onboarded", Raw: []byte("{}"), ContentHash: []byte{1}}}); err != nil {
		t.Fatal(err)
	}
	e.start()
	got := e.storedRun(left.ID)
	if got.Outcome != model.RunInterrupted || got.FinishedAt == nil || got.Error == "" {
		t.Errorf("left-over run after Run started: %+v, want interrupted with a finish time and message", got)
	}
	if n := e.staged(); n != 0 {
		t.Errorf("staged rows of the interrupted run = %d, want 0", n)
	}
	if s := e.w.Status(); s.LastRun == nil || s.LastRun.ID != left.ID || s.LastRun.Outcome != model.RunInterrupted {
		t.Errorf("status last run %+v, want the interrupted run", s.LastRun)
	}
	if n := e.count("SELECT COUNT(*) FROM devices"); n != 0 {
		t.Errorf("devices = %d, want 0", n)
	}
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Added != 10 {
		t.Errorf("next run %s added %d, want success 10", run.Outcome, run.Added)
	}
}

func TestRunLoadsSnapshotAtStart(t *testing.T) {
	e := newEnv(t, envOptions{machines: 10})
	run := e.sync(syncer.TriggerManual)
	e.stop()
	h := &fleet.Holder{}
	w := syncer.New(e.st, e.svc, h, slog.New(slog.DiscardHandler), syncer.Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	e.waitFor("the new worker's loop", func() bool { return !w.Status().NextRun.IsZero() })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := h.Load(); s.Len() != 10 || s.RunID != run.ID || s.SyncedAt.IsZero() {
		t.Errorf("snapshot at start: len %d run %d synced %v; want 10, %d, set", s.Len(), s.RunID, s.SyncedAt, run.ID)
	}
	if s := w.Status(); s.LastSuccess == nil || s.LastSuccess.ID != run.ID {
		t.Errorf("status last success %+v, want run %d", s.LastSuccess, run.ID)
	}
}

func TestOnSwap(t *testing.T) {
	e := newEnv(t, envOptions{machines: 10})
	type swap struct{ old, new *fleet.Snapshot }
	var mu sync.Mutex
	var swaps []swap
	e.w.OnSwap(func(old, new *fleet.Snapshot) {
		mu.Lock()
		swaps = append(swaps, swap{old, new})
		mu.Unlock()
	})
	got := func() []swap {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(swaps)
	}

	// A success publishes once, or twice when the antivirus health report
	// is read after the machines are applied: each swap's old is the one
	// before, and every new one is of the run, the last one published.
	checkRun := func(s []swap, prev *fleet.Snapshot, run model.SyncRun) {
		t.Helper()
		if len(s) < 1 || len(s) > 2 {
			t.Fatalf("%d swaps after a success, want 1 or 2", len(s))
		}
		for i, sw := range s {
			if sw.old != prev || sw.new.RunID != run.ID || sw.new.Len() != 10 {
				t.Errorf("swap %d: old %p (want %p), new of run %d with %d devices; want run %d with 10", i, sw.old, prev, sw.new.RunID, sw.new.Len(), run.ID)
			}
			prev = sw.new
		}
		if prev != e.holder.Load() {
			t.Errorf("the last swap's snapshot %p is not the published one %p", prev, e.holder.Load())
		}
	}
	initial := e.holder.Load()
	run := e.sync(syncer.TriggerManual)
	first := len(got())
	checkRun(got(), initial, run)

	e.setFaults(emulator.Faults{APIDown: true})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunFailed {
		t.Fatalf("run %s, want failed", run.Outcome)
	}
	if n := len(got()); n != first {
		t.Errorf("%d swaps after a failure, want still %d", n, first)
	}

	e.setFaults(emulator.Faults{})
	prev := e.holder.Load()
	run = e.sync(syncer.TriggerManual)
	checkRun(got()[first:], prev, run)
}

func TestSyncSkipsWhenNotConnected(t *testing.T) {
	e := newEnv(t, envOptions{machines: 10})
	e.disable()
	e.emu.ResetStats()
	e.idle(syncer.TriggerManual)
	if s := e.w.Status(); s.LastRun != nil {
		t.Errorf("a disabled integration recorded run %+v", s.LastRun)
	}
	if st := e.emu.Stats(); st.APIRequests+st.TokenRequests != 0 {
		t.Errorf("a disabled integration called Microsoft %d times", st.APIRequests+st.TokenRequests)
	}
}

// TestSyncRecordsProgress checks Fetched counts machines as pages arrive.
func TestSyncRecordsProgress(t *testing.T) {
	e := newEnv(t, envOptions{machines: 30, list: defender.ListOptions{PageSize: 10}})
	e.setFaults(emulator.Faults{SlowPage: 100 * time.Millisecond})
	before := e.w.Status()
	e.w.Trigger(syncer.TriggerManual)
	e.waitFor("progress", func() bool { s := e.w.Status(); return s.Running && s.Fetched >= 10 && s.Fetched < 30 })
	if s := e.w.Status(); s.Trigger != syncer.TriggerManual || s.RunID == 0 || s.RunStarted.IsZero() {
		t.Errorf("running status %+v, want trigger, run id and start", s)
	}
	run := e.waitRun(before)
	if run.Outcome != model.RunSuccess {
		t.Fatalf("run %s", run.Outcome)
	}
}

func TestSyncRunTimeout(t *testing.T) {
	e := newEnv(t, envOptions{machines: 50, list: defender.ListOptions{PageSize: 10}, runTimeout: 500 * time.Millisecond})
	if first := e.sync(syncer.TriggerManual); first.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", first.Outcome)
	}
	e.change()
	before := e.state()
	e.setFaults(emulator.Faults{SlowPage: 200 * time.Millisecond})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunFailed || run.ErrorCode != "timeout" || !strings.Contains(run.Error, "time limit") {
		t.Errorf("run %s code %q error %q, want failed timeout", run.Outcome, run.ErrorCode, run.Error)
	}
	e.assertUnchanged(before)
}
