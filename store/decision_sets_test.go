package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"postern/internal/model"
	"postern/store"
)

// checksOf is a decision's checks as the log records them, one per name.
func checksOf(names ...string) []model.DecisionCheck {
	var cs []model.DecisionCheck
	for i, n := range names {
		cs = append(cs, model.DecisionCheck{ID: int64(i + 1), Name: n, Mode: "enforce", Result: "fail", Reasons: []string{n + " failed"}})
	}
	return cs
}

// checkNames are the names of a decision's checks.
func checkNames(d model.Decision) []string {
	var out []string
	for _, c := range d.Checks {
		out = append(out, c.Name)
	}
	return out
}

// denials are n denials of device at at, each with checks.
func denials(n int, device string, at time.Time, checks []model.DecisionCheck) []model.Decision {
	var ds []model.Decision
	for i := range n {
		ds = append(ds, model.Decision{At: at.Add(time.Duration(i) * time.Millisecond), DeviceID: device,
			MatchedBy: "defender_machine_id", Result: model.DecisionDenied, Checks: checks})
	}
	return ds
}

// The decision log stores each distinct set of checks once: entries with
// the same checks share it, within a batch, across batches and across
// writers (a restart, another replica), and every entry reads its own
// checks back.
func TestDecisionCheckSetsAreShared(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		t0 := s.Now()
		fw, risk := checksOf("Firewall"), checksOf("Firewall", "Risk")
		batch := slices.Concat(denials(200, "m1", t0, fw), denials(200, "m2", t0, risk), denials(10, "m3", t0, nil))
		if err := s.AppendDecisions(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendDecisions(ctx, denials(5, "m1", t0.Add(time.Second), fw)); err != nil {
			t.Fatal(err)
		}
		other := s.AsReplica("other") // a writer that knows no set yet
		if err := other.AppendDecisions(ctx, denials(5, "m2", t0.Add(time.Second), risk)); err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM decision_check_sets"); n != 3 {
			t.Errorf("the log holds %d sets of checks, want 3 (Firewall; Firewall and Risk; none)", n)
		}
		for device, want := range map[string][]string{"m1": {"Firewall"}, "m2": {"Firewall", "Risk"}, "m3": nil} {
			got, _, err := s.Decisions(ctx, model.DecisionFilter{DeviceID: device, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range got {
				if !slices.Equal(checkNames(d), want) || (len(d.Checks) > 0 && d.Checks[0].Reasons[0] != "Firewall failed") {
					t.Fatalf("%s's decision reads %+v, want checks %v", device, d.Checks, want)
				}
			}
		}
		if _, n, err := s.Decisions(ctx, model.DecisionFilter{CheckID: 2}); err != nil || n != 205 {
			t.Errorf("the check filter finds %d decisions of check 2 (%v), want 205", n, err)
		}
		noDanglingSets(t, s)
	})
}

// A set no entry left can name is deleted; one an entry may still name is
// not, and a writer that used a set before the retention deleted it writes
// it again instead of naming what is gone.
func TestDecisionCheckSetsArePruned(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		clock := newFakeClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
		s := open(t, store.Options{Now: clock.Now})
		t0 := clock.Now()
		fw, risk := checksOf("Firewall"), checksOf("Risk")
		if err := s.AppendDecisions(ctx, slices.Concat(denials(3, "m1", t0.Add(-time.Minute), fw), denials(3, "m2", t0.Add(-time.Minute), risk))); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneDecisionCheckSets(ctx); err != nil || n != 0 {
			t.Fatalf("PruneDecisionCheckSets with every set in use: %d, %v", n, err)
		}

		clock.Advance(25 * time.Hour) // Risk is used again, Firewall is not
		if err := s.AppendDecisions(ctx, denials(1, "m2", clock.Now().Add(-time.Minute), risk)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneDecisions(ctx, t0.Add(30*time.Minute), 100); err != nil || n != 6 {
			t.Fatalf("PruneDecisions: %d, %v; want the 6 of the first hour", n, err)
		}
		if n, err := s.PruneDecisionCheckSets(ctx); err != nil || n != 1 {
			t.Fatalf("PruneDecisionCheckSets: %d, %v; want Firewall's set, which no entry left names", n, err)
		}
		got, _, err := s.Decisions(ctx, model.DecisionFilter{})
		if err != nil || len(got) != 1 || !slices.Equal(checkNames(got[0]), []string{"Risk"}) {
			t.Fatalf("after pruning the sets: %+v, %v; want m2's Risk denial", got, err)
		}

		// The writer knew Firewall's set; it is gone, so it is written again.
		if err := s.AppendDecisions(ctx, denials(1, "m1", clock.Now(), fw)); err != nil {
			t.Fatal(err)
		}
		got, _, err = s.Decisions(ctx, model.DecisionFilter{DeviceID: "m1"})
		if err != nil || len(got) != 1 || !slices.Equal(checkNames(got[0]), []string{"Firewall"}) {
			t.Fatalf("m1's new denial reads %+v, %v; want its Firewall check", got, err)
		}

		noDanglingSets(t, s)

		// Once every entry is gone, so is every set, after the slack.
		if _, err := s.PruneDecisions(ctx, clock.Now().Add(time.Hour), 100); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneDecisionCheckSets(ctx); err != nil || n != 0 {
			t.Errorf("PruneDecisionCheckSets of a log emptied just now: %d, %v; want none yet", n, err)
		}
		clock.Advance(25 * time.Hour)
		if n, err := s.PruneDecisionCheckSets(ctx); err != nil || n != 2 {
			t.Errorf("PruneDecisionCheckSets of an empty log, a day on: %d, %v; want both sets", n, err)
		}
	})
}

// noDanglingSets fails the test when a decision names a set that is gone.
func noDanglingSets(t *testing.T, s *store.Store) {
	t.Helper()
	if n := queryInt(t, s, `SELECT COUNT(*) FROM decisions d
		LEFT JOIN decision_check_sets c ON c.id = d.checks_set WHERE c.id IS NULL`); n != 0 {
		t.Errorf("%d decisions name a set of checks that is gone", n)
	}
}

// The sets the retention keeps: one that old entries still name, however
// long unused; one a writer named from its memory minutes after it last
// moved its last_at; and a set's last_at never moves back when a writer
// with a slower clock uses it.
func TestDecisionCheckSetsInUseAreKept(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		clock := newFakeClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
		s := open(t, store.Options{Now: clock.Now})
		t0 := clock.Now()
		old, fw, risk := checksOf("Old"), checksOf("Firewall"), checksOf("Risk")
		if err := s.AppendDecisions(ctx, slices.Concat(denials(1, "m0", t0, old), denials(1, "m1", t0, fw))); err != nil {
			t.Fatal(err)
		}
		clock.Advance(9 * time.Minute) // within setMark: Firewall's set is named from memory
		if err := s.AppendDecisions(ctx, denials(1, "m1", clock.Now(), fw)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(3 * 24 * time.Hour) // Old's entry stays, unused since
		if err := s.AppendDecisions(ctx, denials(1, "m2", clock.Now(), risk)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneDecisionCheckSets(ctx); err != nil || n != 0 {
			t.Errorf("PruneDecisionCheckSets with Old's entry left: %d, %v; want none deleted", n, err)
		}
		// Old's entry and the first Firewall entry go; the second stays.
		if n, err := s.PruneDecisions(ctx, t0.Add(5*time.Minute), 100); err != nil || n != 2 {
			t.Fatalf("PruneDecisions: %d, %v; want 2", n, err)
		}
		if n, err := s.PruneDecisionCheckSets(ctx); err != nil || n != 0 {
			t.Errorf("PruneDecisionCheckSets: %d, %v; want none deleted within a day of the oldest entry left", n, err)
		}
		noDanglingSets(t, s)
		got, _, err := s.Decisions(ctx, model.DecisionFilter{DeviceID: "m1"})
		if err != nil || len(got) != 1 || !slices.Equal(checkNames(got[0]), []string{"Firewall"}) {
			t.Errorf("m1's entry named from memory reads %+v, %v; want its Firewall check", got, err)
		}

		// A replica whose clock is an hour behind uses Risk's set.
		slow := s.AsReplicaAt("slow", func() time.Time { return clock.Now().Add(-time.Hour) })
		if err := slow.AppendDecisions(ctx, denials(1, "m3", clock.Now().Add(-time.Hour), risk)); err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM decision_check_sets WHERE last_at = ?", store.FormatTime(clock.Now())); n != 1 {
			t.Errorf("%d sets have the last_at the faster clock gave Risk's set, want 1: the slower one moved it back", n)
		}
	})
}

// A batch that fails leaves the writer knowing none of the sets it wrote:
// the next batch writes them again rather than naming rows rolled back.
func TestDecisionCheckSetsOfAFailedBatchAreForgotten(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		// Make an insert fail after the batch's new set is written.
		boom := "boom"
		if s.Engine() == "postgres" {
			boom = "bo\x00om" // PostgreSQL's text holds no NUL
		} else {
			mustExec(t, s, `CREATE TRIGGER boom BEFORE INSERT ON decisions WHEN NEW.hostname = 'boom'
				BEGIN SELECT RAISE(ABORT, 'boom'); END`)
		}
		fw := checksOf("Firewall")
		bad := denials(2, "m1", s.Now(), fw)
		bad[1].Hostname = boom
		if err := s.AppendDecisions(ctx, bad); err == nil {
			t.Fatal("the batch with a failing insert was written")
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM decision_check_sets"); n != 0 {
			t.Fatalf("the failed batch left %d sets", n)
		}
		if err := s.AppendDecisions(ctx, denials(1, "m1", s.Now(), fw)); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.Decisions(ctx, model.DecisionFilter{DeviceID: "m1"})
		if err != nil || len(got) != 1 || !slices.Equal(checkNames(got[0]), []string{"Firewall"}) {
			t.Fatalf("the denial after a failed batch reads %+v, %v; want its Firewall check", got, err)
		}
		noDanglingSets(t, s)
	})
}
