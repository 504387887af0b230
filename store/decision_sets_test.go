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

		clock.Advance(time.Hour) // Risk is used again, Firewall is not
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

		// Once every entry is gone, so is every set, after the slack.
		if _, err := s.PruneDecisions(ctx, clock.Now().Add(time.Hour), 100); err != nil {
			t.Fatal(err)
		}
		clock.Advance(21 * time.Minute)
		if n, err := s.PruneDecisionCheckSets(ctx); err != nil || n != 2 {
			t.Errorf("PruneDecisionCheckSets of an empty log: %d, %v; want both sets", n, err)
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
	})
}
