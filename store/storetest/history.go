package storetest

import (
	"slices"
	"testing"

	"postern/internal/audit"
	"postern/internal/model"
)

func testHistory(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"AppendAndRead", historyAppend},
		tcase{"Filters", historyFilters},
		tcase{"BaselineAndPendingCauses", historyBaseline},
	)
}

// historyAppend: one cause, its summary and its rows commit together and
// read back with the cause.
func historyAppend(t *testing.T, s Store) {
	ctx := t.Context()
	if _, err := s.AppendHistory(ctx, model.Cause{Kind: model.CauseSyncRun}, nil, entry(audit.VerdictsChanged, "x")); err != nil {
		t.Fatalf("AppendHistory of nothing: %v", err)
	}
	wantAudit(t, s, audit.VerdictsChanged, 0)
	entries := []model.HistoryEntry{
		{DeviceID: "dev-1", CheckID: 7, CheckName: "Firewall", At: at(1, 0), From: "unknown", To: "pass", Signal: "sync"},
		{DeviceID: "dev-2", At: at(1, 0), From: "pass", To: "fail", Reasons: []string{"Firewall: off", "Antivirus: stale"}},
		{DeviceID: "dev-1", At: at(2, 0), From: "pass", To: "fail", Reasons: []string{"Firewall: off"}},
	}
	cause := model.Cause{Kind: model.CauseCheckCreated, Ref: "7", Label: "Posture check “Firewall” created", Actor: "alice", At: at(2, 0)}
	got, err := s.AppendHistory(ctx, cause, entries, entry(audit.VerdictsChanged, cause.Label))
	must(t, err, "AppendHistory")
	if got.ID == 0 || got.Label != cause.Label {
		t.Fatalf("AppendHistory returned cause %+v", got)
	}
	sum := wantAudit(t, s, audit.VerdictsChanged, 1)
	if m, err := s.CausesOfAudit(ctx, []int64{sum.ID, sum.ID + 100}); err != nil || len(m) != 1 || m[sum.ID] != got.ID {
		t.Errorf("CausesOfAudit = %v, %v; want %d → %d", m, err, sum.ID, got.ID)
	}
	if c, err := s.Cause(ctx, got.ID); err != nil || c.Kind != cause.Kind || c.Ref != "7" || c.Actor != "alice" || !sameTime(c.At, at(2, 0)) {
		t.Errorf("Cause(%d) = %+v, %v", got.ID, c, err)
	}
	all, err := s.History(ctx, "", 10)
	must(t, err, "History")
	if len(all) != 3 || all[0].To != "fail" || all[0].DeviceID != "dev-1" || all[2].CheckName != "Firewall" {
		t.Fatalf("History of every device = %+v, want the three, newest first", all)
	}
	first := all[2]
	if first.ID == 0 || first.CheckID != 7 || first.From != "unknown" || first.To != "pass" || first.Signal != "sync" ||
		!sameTime(first.At, at(1, 0)) || len(first.Reasons) != 0 || first.Cause.ID != got.ID || first.Cause.Label != cause.Label {
		t.Errorf("entry read back as %+v", first)
	}
	if r := all[1].Reasons; !slices.Equal(r, entries[1].Reasons) || all[1].CheckID != 0 {
		t.Errorf("overall entry read back as %+v", all[1])
	}
	one, err := s.History(ctx, "dev-1", 1)
	must(t, err, "History")
	if len(one) != 1 || one[0].ID != all[0].ID {
		t.Errorf("History(dev-1, 1) = %+v, want only its newest", one)
	}
	if none, err := s.History(ctx, "dev-9", 10); err != nil || len(none) != 0 {
		t.Errorf("History of a device without any = %+v, %v", none, err)
	}
}

// historyFilters: HistoryPage filters by check, results and cause, counts
// every match and pages newest first.
func historyFilters(t *testing.T, s Store) {
	ctx := t.Context()
	sync, err := s.AppendHistory(ctx, model.Cause{Kind: model.CauseSyncRun, Ref: "3", Label: "Sync run 3"}, []model.HistoryEntry{
		{DeviceID: "a", At: at(1, 0), From: "pass", To: "fail"},
		{DeviceID: "a", CheckID: 5, CheckName: "Risk", At: at(1, 0), From: "pass", To: "fail"},
		{DeviceID: "b", At: at(1, 0), From: "pass", To: "unknown"},
	}, audit.Entry{})
	must(t, err, "AppendHistory")
	check, err := s.AppendHistory(ctx, model.Cause{Kind: model.CauseCheckUpdated, Ref: "5", Label: "Posture check “Risk” edited"},
		[]model.HistoryEntry{
			{DeviceID: "c", At: at(2, 0), From: "fail", To: "pass"},
			{DeviceID: "d", At: at(2, 0), From: "pass", To: "fail"},
		}, audit.Entry{})
	must(t, err, "AppendHistory")
	overall, risk := int64(0), int64(5)
	for _, tc := range []struct {
		name string
		f    model.HistoryFilter
		want []string // device ids, newest first
	}{
		{"all", model.HistoryFilter{}, []string{"d", "c", "b", "a", "a"}},
		{"overall only", model.HistoryFilter{CheckID: &overall}, []string{"d", "c", "b", "a"}},
		{"one check", model.HistoryFilter{CheckID: &risk}, []string{"a"}},
		{"to fail", model.HistoryFilter{To: "fail"}, []string{"d", "a", "a"}},
		{"pass to unknown", model.HistoryFilter{From: "pass", To: "unknown"}, []string{"b"}},
		{"by cause", model.HistoryFilter{CauseID: check.ID}, []string{"d", "c"}},
		{"by kind", model.HistoryFilter{CauseKind: model.CauseSyncRun}, []string{"b", "a", "a"}},
		{"kind and cause disagree", model.HistoryFilter{CauseKind: model.CauseSyncRun, CauseID: check.ID}, nil},
		{"device", model.HistoryFilter{DeviceID: "a", CauseID: sync.ID}, []string{"a", "a"}},
	} {
		got, total, err := s.HistoryPage(ctx, tc.f)
		must(t, err, "HistoryPage "+tc.name)
		var ids []string
		for _, h := range got {
			ids = append(ids, h.DeviceID)
		}
		if !slices.Equal(ids, tc.want) || total != len(tc.want) {
			t.Errorf("%s: %v (total %d), want %v", tc.name, ids, total, tc.want)
		}
	}
	page, total, err := s.HistoryPage(ctx, model.HistoryFilter{Limit: 2, Offset: 2})
	must(t, err, "HistoryPage paged")
	if total != 5 || len(page) != 2 || page[0].DeviceID != "b" || page[0].Cause.Kind != model.CauseSyncRun {
		t.Errorf("second page of 2 = %+v (total %d), want b and a of sync run 3, total 5", page, total)
	}
}

// testRetention: pruning deletes only what is older than the cutoff, at
// most a batch at a time, oldest first, and leaves the newer rows.
func testRetention(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"Audit", retentionAudit},
		tcase{"History", retentionHistory},
	)
}

func retentionAudit(t *testing.T, s Store) {
	ctx := t.Context()
	for i := range 5 {
		e := entry(audit.Login, "old")
		e.At = at(1, i)
		must(t, s.AppendAudit(ctx, e), "AppendAudit")
	}
	recent := entry(audit.Login, "recent")
	recent.At = at(5, 0)
	must(t, s.AppendAudit(ctx, recent), "AppendAudit")
	cutoff := at(3, 0)
	var counts []int
	for {
		n, err := s.PruneAudit(ctx, cutoff, 2)
		must(t, err, "PruneAudit")
		counts = append(counts, n)
		if n < 2 {
			break
		}
	}
	if !slices.Equal(counts, []int{2, 2, 1}) {
		t.Errorf("batches deleted %v, want 2, 2, 1", counts)
	}
	left, total, err := s.AuditEntries(ctx, audit.Filter{})
	must(t, err, "AuditEntries")
	if total != 1 || left[0].Target != "recent" {
		t.Errorf("after pruning: %+v, want only the recent entry", left)
	}
	if n, err := s.PruneAudit(ctx, cutoff, 2); err != nil || n != 0 {
		t.Errorf("pruning again = %d, %v; want nothing", n, err)
	}
}

func retentionHistory(t *testing.T, s Store) {
	ctx := t.Context()
	old, err := s.AppendHistory(ctx, model.Cause{Kind: model.CauseSyncRun, Label: "old", At: at(1, 0)}, []model.HistoryEntry{
		{DeviceID: "a", At: at(1, 0), From: "pass", To: "fail"},
		{DeviceID: "b", At: at(1, 0), From: "pass", To: "fail"},
		{DeviceID: "c", At: at(1, 0), From: "pass", To: "fail"},
	}, audit.Entry{})
	must(t, err, "AppendHistory")
	_, err = s.AppendHistory(ctx, model.Cause{Kind: model.CauseSyncRun, Label: "new", At: at(5, 0)},
		[]model.HistoryEntry{{DeviceID: "a", At: at(5, 0), From: "fail", To: "pass"}}, audit.Entry{})
	must(t, err, "AppendHistory")
	cutoff := at(3, 0)
	if n, err := s.PruneHistory(ctx, cutoff, 2); err != nil || n != 2 {
		t.Fatalf("first batch = %d, %v; want 2", n, err)
	}
	if _, err := s.Cause(ctx, old.ID); err != nil {
		t.Errorf("the old cause went while one of its rows is left: %v", err)
	}
	if n, err := s.PruneHistory(ctx, cutoff, 2); err != nil || n != 1 {
		t.Fatalf("second batch = %d, %v; want 1", n, err)
	}
	if _, err := s.Cause(ctx, old.ID); err == nil {
		t.Errorf("the old cause is left without rows")
	}
	left, err := s.History(ctx, "", 10)
	must(t, err, "History")
	if len(left) != 1 || left[0].Cause.Label != "new" || !left[0].At.Equal(at(5, 0)) {
		t.Errorf("after pruning: %+v, want the new row with its cause", left)
	}
}

// historyBaseline: the recorded verdicts and the pending causes. A pass's
// changes, its baseline and the end of the causes it filed commit
// together; a baseline is replaced whole; causes not filed stay.
func historyBaseline(t *testing.T, s Store) {
	ctx := t.Context()
	if _, found, err := s.VerdictBaseline(ctx); err != nil || found {
		t.Fatalf("VerdictBaseline of a new database: found %v, %v", found, err)
	}
	c1 := model.Cause{Kind: model.CauseCheckCreated, Ref: "3", Label: "Posture check “A” created by alice", Actor: "alice", At: at(1, 0)}
	c2 := model.Cause{Kind: model.CauseIntegrationDisabled, Ref: "defender", Label: "Microsoft Defender disabled by bob", Actor: "bob", At: at(1, 5)}
	id1, err := s.AddPendingCause(ctx, model.PendingCause{Cause: c1, CheckID: 3})
	must(t, err, "AddPendingCause")
	id2, err := s.AddPendingCause(ctx, model.PendingCause{Cause: c2})
	must(t, err, "AddPendingCause")
	pend, err := s.PendingCauses(ctx)
	must(t, err, "PendingCauses")
	if len(pend) != 2 || pend[0].ID != id1 || pend[1].ID != id2 || pend[0].CheckID != 3 || pend[0].Cause.Label != c1.Label ||
		pend[1].Cause.Kind != c2.Kind || !sameTime(pend[1].Cause.At, c2.At) {
		t.Fatalf("pending causes %+v", pend)
	}
	base := model.VerdictBaseline{At: at(2, 0), RunID: 7, Stale: true, Data: []byte{0x1f, 0x8b, 0, 1, 2, 255}}
	must(t, s.RecordVerdicts(ctx, []model.CauseChanges{{Cause: c1,
		Entries: []model.HistoryEntry{{DeviceID: "m1", At: at(2, 0), From: "pass", To: "fail"}}}}, base, []int64{id1}), "RecordVerdicts")
	got, found, err := s.VerdictBaseline(ctx)
	must(t, err, "VerdictBaseline")
	if !found || got.RunID != 7 || !got.Stale || !sameTime(got.At, base.At) || !slices.Equal(got.Data, base.Data) {
		t.Errorf("baseline read back %+v, want %+v", got, base)
	}
	if h, err := s.History(ctx, "m1", 10); err != nil || len(h) != 1 || h[0].Cause.Kind != model.CauseCheckCreated {
		t.Errorf("history of the pass: %+v, %v", h, err)
	}
	if pend, _ := s.PendingCauses(ctx); len(pend) != 1 || pend[0].ID != id2 {
		t.Errorf("pending after the pass: %+v, want only the cause it did not file", pend)
	}
	base2 := model.VerdictBaseline{At: at(3, 0), RunID: 8, Data: []byte("next")}
	must(t, s.RecordVerdicts(ctx, nil, base2, nil), "RecordVerdicts")
	if got, _, _ := s.VerdictBaseline(ctx); got.RunID != 8 || got.Stale || string(got.Data) != "next" {
		t.Errorf("baseline replaced: %+v", got)
	}
}
