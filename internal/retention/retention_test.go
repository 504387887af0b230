package retention_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/retention"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

var _ retention.Store = (*store.Store)(nil)

// A pass deletes, in batches, what is older than the retention in the
// audit log and the posture history, keeps the rest, and records itself;
// a pass with nothing to delete records nothing.
func TestPruneKeepsTheRetention(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	st := teststore.Open(t, store.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	old, recent := now.AddDate(0, 0, -401), now.AddDate(0, 0, -399)
	for i := range 25 {
		at := old
		if i%5 == 0 {
			at = recent
		}
		if err := st.AppendAudit(ctx, audit.Entry{At: at.Add(time.Duration(i) * time.Second), Actor: "alice",
			Action: audit.Login, Outcome: audit.Success, Detail: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var rows []model.HistoryEntry
	for i := range 12 {
		rows = append(rows, model.HistoryEntry{DeviceID: fmt.Sprint("dev-", i), At: old, From: "pass", To: "fail"})
	}
	if _, err := st.AppendHistory(ctx, model.Cause{Kind: model.CauseSyncRun, Label: "Sync run 1", At: old}, rows, audit.Entry{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendHistory(ctx, model.Cause{Kind: model.CauseSyncRun, Label: "Sync run 2", At: recent},
		[]model.HistoryEntry{{DeviceID: "dev-0", At: recent, From: "fail", To: "pass"}}, audit.Entry{}); err != nil {
		t.Fatal(err)
	}

	p := retention.New(st, 400, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	p.Batch, p.Pause = 4, time.Millisecond
	a, h, err := p.Prune(ctx)
	if err != nil || a != 20 || h != 12 {
		t.Fatalf("Prune = %d audit, %d history, %v; want 20 and 12", a, h, err)
	}
	left, _, err := st.AuditEntries(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 6 || left[0].Action != audit.Pruned || left[0].Actor != actor.Retention.Email ||
		!strings.Contains(left[0].Detail, "deleted 20 audit entries and 12 posture history rows older than 400 days") {
		t.Fatalf("after pruning: %d entries, newest %+v", len(left), left[0])
	}
	for _, e := range left[1:] {
		if e.At.Before(now.AddDate(0, 0, -400)) {
			t.Errorf("entry %s of %v kept past the retention", e.Detail, e.At)
		}
	}
	hist, err := st.History(ctx, "", 100)
	if err != nil || len(hist) != 1 || hist[0].Cause.Label != "Sync run 2" {
		t.Fatalf("history after pruning: %+v, %v", hist, err)
	}
	if a, h, err := p.Prune(ctx); err != nil || a+h != 0 {
		t.Errorf("second pass = %d, %d, %v; want nothing", a, h, err)
	}
	if n := len(mustAudit(t, st, audit.Pruned)); n != 1 {
		t.Errorf("%d pruning entries after a pass with nothing to do, want 1", n)
	}
}

// Run prunes on its own after First and stops at shutdown.
func TestRunPrunesInTheBackground(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	st := teststore.Open(t, store.Options{Now: func() time.Time { return now }})
	ctx, cancel := context.WithCancel(context.Background())
	if err := st.AppendAudit(ctx, audit.Entry{At: now.AddDate(-2, 0, 0), Actor: "a", Action: audit.Login, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	p := retention.New(st, 400, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	p.First, p.Every = time.Millisecond, time.Hour
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(mustAudit(t, st, audit.Pruned)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no pruning recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v at shutdown, want nil", err)
	}
}

func mustAudit(t *testing.T, st *store.Store, action string) []audit.Entry {
	t.Helper()
	es, _, err := st.AuditEntries(context.Background(), audit.Filter{Action: &action})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// The decision log keeps its own, shorter retention (7 days by default),
// pruned in the same pass, while the audit log keeps its entries.
func TestPruneDecisionLog(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	clock := testkit.NewClock(now.AddDate(0, 0, -8))
	path := teststore.Path(t)
	st := teststore.OpenAt(t, path, store.Options{Now: clock.Now})
	ctx := context.Background()
	// Eight days ago, a denial for a check no later one fails: its set of
	// checks goes with it.
	if err := st.AppendDecisions(ctx, []model.Decision{{At: clock.Now(), DeviceID: "m2", MatchedBy: "defender_machine_id",
		Result: model.DecisionDenied, Checks: []model.DecisionCheck{{ID: 2, Name: "Risk", Mode: "enforce", Result: "fail"}}}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(8 * 24 * time.Hour)
	var ds []model.Decision
	for i := range 9 {
		at := now.AddDate(0, 0, -8).Add(time.Duration(i) * time.Minute)
		if i%3 == 0 {
			at = now.AddDate(0, 0, -6)
		}
		ds = append(ds, model.Decision{At: at, DeviceID: "m1", MatchedBy: "defender_machine_id", Result: model.DecisionDenied,
			Checks: []model.DecisionCheck{{ID: 1, Name: "Firewall", Mode: "enforce", Result: "fail"}}})
	}
	// Some in the device index, the rest recent.
	if err := st.AppendDecisions(ctx, ds[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.IndexDecisions(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendDecisions(ctx, ds[5:]); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendAudit(ctx, audit.Entry{At: now.AddDate(0, 0, -8), Actor: "alice", Action: audit.Login, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	p := retention.New(st, 400, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if p.DecisionDays != retention.DefaultDecisionDays || retention.DefaultDecisionDays != 7 {
		t.Fatalf("DecisionDays = %d, want 7 by default", p.DecisionDays)
	}
	p.Batch, p.Pause = 2, time.Millisecond
	if a, h, err := p.Prune(ctx); err != nil || a+h != 0 {
		t.Fatalf("Prune = %d, %d, %v; want no audit or history rows", a, h, err)
	}
	left, total, err := st.Decisions(ctx, model.DecisionFilter{})
	if err != nil || total != 3 {
		t.Fatalf("decisions left: %d (%v), want the 3 within 7 days", total, err)
	}
	for _, d := range left {
		if d.At.Before(now.AddDate(0, 0, -7)) {
			t.Errorf("decision of %v kept past 7 days", d.At)
		}
	}
	// The device filter counts the device index's keys alone: the pruned
	// entries' keys went with them.
	if _, n, err := st.Decisions(ctx, model.DecisionFilter{DeviceID: "m1"}); err != nil || n != 3 {
		t.Errorf("m1's decisions after pruning: %d (%v), want 3", n, err)
	}
	if n := len(mustAudit(t, st, audit.Login)); n != 1 {
		t.Errorf("%d login entries left, want the audit log untouched", n)
	}
	r, err := sql.Open("sqlite", store.DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sets := teststore.Strings(t, r.Query, "SELECT checks FROM decision_check_sets")
	if len(sets) != 1 || !strings.Contains(sets[0], "Firewall") {
		t.Errorf("the decision log's sets of checks after pruning: %q, want the Firewall denials' alone", sets)
	}
}

// The decision log is bounded by size too: past DecisionMaxRows the
// oldest entries go, in batches, even when younger than the retention.
func TestPruneDecisionLogToItsCap(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	st := teststore.Open(t, store.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	var ds []model.Decision
	for i := range 25 {
		ds = append(ds, model.Decision{At: now.Add(-time.Hour + time.Duration(i)*time.Second), DeviceID: fmt.Sprint("m", i),
			MatchedBy: "defender_machine_id", Result: model.DecisionDenied})
	}
	if err := st.AppendDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	p := retention.New(st, 400, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if p.DecisionMaxRows != retention.DefaultDecisionMaxRows || retention.DefaultDecisionMaxRows != 5_000_000 {
		t.Fatalf("DecisionMaxRows = %d, want 5,000,000 by default", p.DecisionMaxRows)
	}
	p.DecisionMaxRows, p.Batch, p.Pause = 10, 4, time.Millisecond
	if _, _, err := p.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	left, total, err := st.Decisions(ctx, model.DecisionFilter{})
	if err != nil || total != 10 {
		t.Fatalf("decisions left: %d (%v), want the cap of 10", total, err)
	}
	for _, d := range left {
		if d.At.Before(now.Add(-time.Hour + 15*time.Second)) {
			t.Errorf("decision %s of %v kept, an older one than the newest 10", d.DeviceID, d.At)
		}
	}
	for dev, want := range map[string]int{"m0": 0, "m14": 0, "m15": 1, "m24": 1} {
		if _, n, err := st.Decisions(ctx, model.DecisionFilter{DeviceID: dev}); err != nil || n != want {
			t.Errorf("%s's decisions after the cap: %d (%v), want %d", dev, n, err, want)
		}
	}
	p.DecisionMaxRows = 0
	if _, _, err := p.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, total, _ := st.Decisions(ctx, model.DecisionFilter{}); total != 10 {
		t.Errorf("%d decisions after a pass with no cap, want 10", total)
	}
}
