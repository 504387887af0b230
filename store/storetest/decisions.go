package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
)

func testDecisions(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"RoundTripAndFilters", decisionsFilters},
		tcase{"Prune", decisionsPrune},
		tcase{"Cap", decisionsCap},
		tcase{"LargeBatch", decisionsLargeBatch},
		tcase{"DeviceIndex", decisionsDeviceIndex},
		tcase{"DeviceIndexPrune", decisionsDeviceIndexPrune},
	)
}

// A batch larger than any one statement keeps each decision's checks
// with it.
func decisionsLargeBatch(t *testing.T, s Store) {
	ctx := t.Context()
	var ds []model.Decision
	for i := range 300 {
		ds = append(ds, model.Decision{At: at(1, 0).Add(time.Duration(i) * time.Second), DeviceID: fmt.Sprint("m", i),
			MatchedBy: "defender_machine_id", Result: model.DecisionDenied,
			Checks: []model.DecisionCheck{{ID: int64(i%7 + 1), Name: "C", Mode: "enforce", Result: "fail"}, {ID: 100, Name: "All", Mode: "enforce", Result: "fail"}}})
	}
	must(t, s.AppendDecisions(ctx, ds), "AppendDecisions")
	for id := int64(1); id <= 7; id++ {
		got, n, err := s.Decisions(ctx, model.DecisionFilter{CheckID: id})
		must(t, err, "Decisions")
		for _, d := range got {
			if len(d.Checks) != 2 || d.Checks[0].ID != id || d.DeviceID != fmt.Sprint("m", int(d.At.Sub(at(1, 0))/time.Second)) {
				t.Fatalf("check %d: decision %+v", id, d)
			}
		}
		if want := (300 - int(id-1) + 6) / 7; n != want {
			t.Errorf("check %d: %d decisions, want %d", id, n, want)
		}
	}
	if _, n, err := s.Decisions(ctx, model.DecisionFilter{CheckID: 100}); err != nil || n != 300 {
		t.Errorf("check 100: %d, %v; want 300", n, err)
	}
}

func decisionsFilters(t *testing.T, s Store) {
	ctx := t.Context()
	tok, err := s.CreateAPIToken(ctx, newToken("gateway", "pst_aaaa"), entry(audit.APITokenCreated, "gateway"))
	must(t, err, "CreateAPIToken")
	ds := []model.Decision{
		{At: at(1, 0), DeviceID: "m1", Hostname: "LAPTOP-1.corp", MatchedBy: "hostname", MatchedKey: "laptop-1", Result: model.DecisionDenied,
			Checks:  []model.DecisionCheck{{ID: 7, Name: "Firewall", Mode: "enforce", Result: "fail", Reasons: []string{"firewall is off"}}},
			TokenID: tok.ID, Source: "10.0.0.1"},
		{At: at(2, 0), DeviceID: "", Hostname: "ghost", MatchedBy: "none", MatchedKey: "ghost", Result: model.DecisionUnknown,
			Checks:  []model.DecisionCheck{{ID: 7, Name: "Firewall", Mode: "enforce", Result: "unknown"}, {ID: 9, Name: "Risk", Mode: "enforce", Result: "unknown"}},
			TokenID: 99, Source: "10.0.0.2"},
		{At: at(3, 0), DeviceID: "m1", Hostname: "LAPTOP-1.corp", MatchedBy: "defender_machine_id", MatchedKey: "m1", Result: model.DecisionAllowed,
			TokenID: tok.ID, Source: "10.0.0.1"},
	}
	must(t, s.AppendDecisions(ctx, ds), "AppendDecisions")
	must(t, s.AppendDecisions(ctx, nil), "AppendDecisions(nil)")

	all, total, err := s.Decisions(ctx, model.DecisionFilter{})
	must(t, err, "Decisions")
	if total != 3 || len(all) != 3 || all[0].Result != model.DecisionAllowed || all[2].Result != model.DecisionDenied {
		t.Fatalf("Decisions = %d %+v, want three, newest first", total, all)
	}
	got := all[2]
	if got.ID == 0 || !sameTime(got.At, at(1, 0)) || got.DeviceID != "m1" || got.Hostname != "LAPTOP-1.corp" || got.MatchedBy != "hostname" ||
		got.MatchedKey != "laptop-1" || got.TokenID != tok.ID || got.TokenName != "gateway" || got.Source != "10.0.0.1" ||
		len(got.Checks) != 1 || got.Checks[0].ID != 7 || got.Checks[0].Name != "Firewall" || got.Checks[0].Reasons[0] != "firewall is off" {
		t.Errorf("decision read back as %+v", got)
	}
	if all[1].TokenName != "" || all[1].Checks[1].Name != "Risk" {
		t.Errorf("decision of an unknown token read back as %+v", all[1])
	}
	if len(all[0].Checks) != 0 {
		t.Errorf("allow read back with checks %+v", all[0].Checks)
	}

	for _, tt := range []struct {
		name string
		f    model.DecisionFilter
		want []string // results, newest first
	}{
		{"device", model.DecisionFilter{DeviceID: "m1"}, []string{"allowed", "denied"}},
		{"host prefix, any case", model.DecisionFilter{Hostname: "laptop"}, []string{"allowed", "denied"}},
		{"host wildcard is literal", model.DecisionFilter{Hostname: "%"}, nil},
		{"check", model.DecisionFilter{CheckID: 7}, []string{"unknown", "denied"}},
		{"check 9", model.DecisionFilter{CheckID: 9}, []string{"unknown"}},
		{"result", model.DecisionFilter{Result: model.DecisionDenied}, []string{"denied"}},
		{"token", model.DecisionFilter{TokenID: tok.ID}, []string{"allowed", "denied"}},
		{"time", model.DecisionFilter{Since: at(2, 0), Until: at(3, 0)}, []string{"unknown"}},
		{"page", model.DecisionFilter{Limit: 1, Offset: 1}, []string{"unknown"}},
	} {
		page, n, err := s.Decisions(ctx, tt.f)
		must(t, err, tt.name)
		var res []string
		for _, d := range page {
			res = append(res, d.Result)
		}
		wantTotal := len(tt.want)
		if tt.f.Limit > 0 {
			wantTotal = 3
		}
		if !slices.Equal(res, tt.want) || n != wantTotal {
			t.Errorf("%s: got %v (total %d), want %v", tt.name, res, n, tt.want)
		}
	}
}

func decisionsPrune(t *testing.T, s Store) {
	ctx := t.Context()
	var ds []model.Decision
	for i := range 5 {
		ds = append(ds, model.Decision{At: at(1, i), DeviceID: "m1", MatchedBy: "defender_machine_id", Result: model.DecisionDenied,
			Checks: []model.DecisionCheck{{ID: 1, Name: "A", Mode: "enforce", Result: "fail"}}})
	}
	ds = append(ds, model.Decision{At: at(5, 0), DeviceID: "m1", MatchedBy: "defender_machine_id", Result: model.DecisionDenied,
		Checks: []model.DecisionCheck{{ID: 1, Name: "A", Mode: "enforce", Result: "fail"}}})
	must(t, s.AppendDecisions(ctx, ds), "AppendDecisions")
	var counts []int
	for {
		n, err := s.PruneDecisions(ctx, at(3, 0), 2)
		must(t, err, "PruneDecisions")
		counts = append(counts, n)
		if n < 2 {
			break
		}
	}
	if !slices.Equal(counts, []int{2, 2, 1}) {
		t.Errorf("batches deleted %v, want 2, 2, 1", counts)
	}
	left, total, err := s.Decisions(ctx, model.DecisionFilter{CheckID: 1})
	must(t, err, "Decisions")
	if total != 1 || len(left) != 1 || !sameTime(left[0].At, at(5, 0)) {
		t.Errorf("after pruning: %d %+v, want the recent one", total, left)
	}
}

// The decision log's row cap: DecisionsOverCap names the newest entry
// beyond the newest keep, PruneDecisionsThrough deletes up to it in
// batches, oldest first, and the newest keep stay.
func decisionsCap(t *testing.T, s Store) {
	ctx := t.Context()
	var ds []model.Decision
	for i := range 7 {
		ds = append(ds, model.Decision{At: at(1, i), DeviceID: fmt.Sprint("m", i), MatchedBy: "defender_machine_id",
			Result: model.DecisionDenied})
	}
	must(t, s.AppendDecisions(ctx, ds), "AppendDecisions")
	last, err := s.DecisionsOverCap(ctx, 7)
	must(t, err, "DecisionsOverCap")
	if last != 0 {
		t.Fatalf("DecisionsOverCap(7) of 7 = %d, want 0", last)
	}
	last, err = s.DecisionsOverCap(ctx, 3)
	must(t, err, "DecisionsOverCap")
	var counts []int
	for {
		n, err := s.PruneDecisionsThrough(ctx, last, 3)
		must(t, err, "PruneDecisionsThrough")
		counts = append(counts, n)
		if n < 3 {
			break
		}
	}
	if !slices.Equal(counts, []int{3, 1}) {
		t.Errorf("batches deleted %v, want 3, 1", counts)
	}
	left, total, err := s.Decisions(ctx, model.DecisionFilter{})
	must(t, err, "Decisions")
	var devs []string
	for _, d := range left {
		devs = append(devs, d.DeviceID)
	}
	slices.Sort(devs)
	if total != 3 || !slices.Equal(devs, []string{"m4", "m5", "m6"}) {
		t.Errorf("after the cap: %d %v, want the newest 3", total, devs)
	}
}

// devicePage is the results and times (seconds after at(1, 0)) of the
// decisions of device, newest first, and the total.
func devicePage(t *testing.T, s Store, f model.DecisionFilter) ([]string, int) {
	t.Helper()
	ds, n, err := s.Decisions(t.Context(), f)
	must(t, err, "Decisions")
	var got []string
	for _, d := range ds {
		if d.DeviceID != f.DeviceID {
			t.Fatalf("device %q's decisions hold one of %q", f.DeviceID, d.DeviceID)
		}
		got = append(got, fmt.Sprintf("%s@%d", d.Result, int(d.At.Sub(at(1, 0))/time.Second)))
	}
	return got, n
}

// The device filter reads the decisions of a device whether their keys
// are still recent or already in the device index, and IndexDecisions
// moves the recent ones, each once, without those of no device.
func decisionsDeviceIndex(t *testing.T, s Store) {
	ctx := t.Context()
	d := func(sec int, device, result string) model.Decision {
		return model.Decision{At: at(1, 0).Add(time.Duration(sec) * time.Second), DeviceID: device,
			MatchedBy: "defender_machine_id", MatchedKey: device, Result: result}
	}
	must(t, s.AppendDecisions(ctx, []model.Decision{d(1, "m1", model.DecisionDenied), d(2, "m2", model.DecisionDenied),
		d(3, "", model.DecisionUnknown), d(4, "m1", model.DecisionAllowed)}), "AppendDecisions")
	want := []string{"allowed@4", "denied@1"}
	if got, n := devicePage(t, s, model.DecisionFilter{DeviceID: "m1"}); !slices.Equal(got, want) || n != 2 {
		t.Errorf("m1 before indexing: %v (%d), want %v", got, n, want)
	}
	moved, err := s.IndexDecisions(ctx)
	must(t, err, "IndexDecisions")
	if moved != 3 {
		t.Errorf("IndexDecisions moved %d keys, want 3 (the decision of no device has none)", moved)
	}
	// Half indexed, half recent: one order, one total, one page at a time.
	must(t, s.AppendDecisions(ctx, []model.Decision{d(5, "m1", model.DecisionDenied), d(0, "m1", model.DecisionUnknown)}), "AppendDecisions")
	want = []string{"denied@5", "allowed@4", "denied@1", "unknown@0"}
	for round := range 2 {
		if got, n := devicePage(t, s, model.DecisionFilter{DeviceID: "m1"}); !slices.Equal(got, want) || n != 4 {
			t.Errorf("round %d: m1: %v (%d), want %v", round, got, n, want)
		}
		if got, n := devicePage(t, s, model.DecisionFilter{DeviceID: "m1", Limit: 2, Offset: 1}); !slices.Equal(got, want[1:3]) || n != 4 {
			t.Errorf("round %d: m1's second page: %v (%d), want %v", round, got, n, want[1:3])
		}
		if got, n := devicePage(t, s, model.DecisionFilter{DeviceID: "m1", Result: model.DecisionDenied, Since: at(1, 0).Add(time.Second)}); !slices.Equal(got, []string{"denied@5", "denied@1"}) || n != 2 {
			t.Errorf("round %d: m1's denials since 1 s: %v (%d)", round, got, n)
		}
		if got, n := devicePage(t, s, model.DecisionFilter{DeviceID: "m2"}); !slices.Equal(got, []string{"denied@2"}) || n != 1 {
			t.Errorf("round %d: m2: %v (%d)", round, got, n)
		}
		moved, err = s.IndexDecisions(ctx)
		must(t, err, "IndexDecisions")
		if wantMoved := []int{2, 0}[round]; moved != wantMoved {
			t.Errorf("round %d: IndexDecisions moved %d, want %d", round, moved, wantMoved)
		}
	}
}

// pruneIndex calls PruneDecisionIndex from the first device to the last,
// and returns how many keys it deleted and where each batch ended.
func pruneIndex(t *testing.T, s Store, batch int, before time.Time, through int64) (int, []string) {
	t.Helper()
	var ends []string
	deleted, after := 0, ""
	for len(ends) < 20 {
		next, n, err := s.PruneDecisionIndex(t.Context(), after, batch, before, through)
		must(t, err, "PruneDecisionIndex")
		deleted += n
		if ends = append(ends, next); next == "" {
			break
		}
		after = next
	}
	return deleted, ends
}

// PruneDecisionIndex deletes the keys of the decisions that pruning by
// age or by id would delete, recent or indexed, a run of devices at a
// time, and nothing else; then the decisions go, and the device filter
// finds the rest.
func decisionsDeviceIndexPrune(t *testing.T, s Store) {
	ctx := t.Context()
	var ds []model.Decision
	for i := range 12 { // m0 m1 m2 m3, three each, oldest first
		ds = append(ds, model.Decision{At: at(1, 0).Add(time.Duration(i) * time.Second), DeviceID: fmt.Sprint("m", i%4),
			MatchedBy: "defender_machine_id", Result: model.DecisionDenied})
	}
	must(t, s.AppendDecisions(ctx, ds[:8]), "AppendDecisions")
	if _, err := s.IndexDecisions(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, s.AppendDecisions(ctx, ds[8:]), "AppendDecisions")

	// By id: the 10 oldest, 8 indexed and 2 recent.
	last, err := s.DecisionsOverCap(ctx, 2)
	must(t, err, "DecisionsOverCap")
	if n, _ := pruneIndex(t, s, 4, time.Time{}, 0); n != 0 {
		t.Errorf("PruneDecisionIndex with nothing to prune deleted %d", n)
	}
	// Batches of about 4 keys: the first runs through m1 (the fourth key
	// is m1's), the second through m3, the third finds the end.
	if n, ends := pruneIndex(t, s, 4, time.Time{}, last); n != 10 || !slices.Equal(ends, []string{"m1", "m3", ""}) {
		t.Errorf("PruneDecisionIndex deleted %d in batches ending %q, want 10 ending m1, m3, the end", n, ends)
	}
	if n, err := s.PruneDecisionsThrough(ctx, last, 100); err != nil || n != 10 {
		t.Fatalf("PruneDecisionsThrough: %d, %v; want 10", n, err)
	}
	for dev, want := range map[string][]string{"m0": nil, "m1": nil, "m2": {"denied@10"}, "m3": {"denied@11"}} {
		if got, n := devicePage(t, s, model.DecisionFilter{DeviceID: dev}); !slices.Equal(got, want) || n != len(want) {
			t.Errorf("%s after pruning by id: %v (%d), want %v", dev, got, n, want)
		}
	}

	// By age: two of m5's three decisions are older than at(1, 0).
	var m5 []model.Decision
	for _, sec := range []int{-7200, -3600, 30} {
		m5 = append(m5, model.Decision{At: at(1, 0).Add(time.Duration(sec) * time.Second), DeviceID: "m5",
			MatchedBy: "defender_machine_id", Result: model.DecisionDenied})
	}
	must(t, s.AppendDecisions(ctx, m5[:1]), "AppendDecisions")
	if _, err := s.IndexDecisions(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, s.AppendDecisions(ctx, m5[1:]), "AppendDecisions")
	for _, tt := range []struct {
		before time.Time
		want   bool
	}{{at(1, 0).Add(-2 * time.Hour), false}, {at(1, 0), true}} {
		if old, err := s.DecisionsBefore(ctx, tt.before); err != nil || old != tt.want {
			t.Errorf("DecisionsBefore(%v) = %v, %v; want %v", tt.before, old, err, tt.want)
		}
	}
	if n, _ := pruneIndex(t, s, 100, at(1, 0), 0); n != 2 {
		t.Errorf("PruneDecisionIndex by age deleted %d keys, want m5's two old ones", n)
	}
	if n, err := s.PruneDecisions(ctx, at(1, 0), 100); err != nil || n != 2 {
		t.Fatalf("PruneDecisions: %d, %v; want 2", n, err)
	}
	for dev, want := range map[string][]string{"m5": {"denied@30"}, "m2": {"denied@10"}} {
		if got, n := devicePage(t, s, model.DecisionFilter{DeviceID: dev}); !slices.Equal(got, want) || n != len(want) {
			t.Errorf("%s after pruning by age: %v (%d), want %v", dev, got, n, want)
		}
		if got, n := devicePage(t, s, model.DecisionFilter{DeviceID: dev, Result: model.DecisionDenied}); !slices.Equal(got, want) || n != len(want) {
			t.Errorf("%s's denials after pruning by age: %v (%d), want %v", dev, got, n, want)
		}
	}
}
