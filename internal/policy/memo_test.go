package policy

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/posture"
)

// fresh is what a new evaluation answers for id: a device report (which
// no check here reads) keeps the request out of the memo.
func (g *graceEnv) fresh(id string) posture.Decision {
	return g.e.Evaluate(posture.Request{DefenderMachineID: id, Report: posture.Report{OS: "Windows"}})
}

// ask evaluates id into dec and reports whether the memo answered.
func (g *graceEnv) ask(dec *posture.Decision, id string) bool {
	hit := false
	g.e.onMemoHit = func() { hit = true }
	defer func() { g.e.onMemoHit = nil }()
	g.e.EvaluateInto(dec, posture.Request{DefenderMachineID: id})
	return hit
}

// A repeated request is answered from the memo with the decision a new
// evaluation gives, and writing other decisions into the same Decision
// afterwards (as the API's pooled answers do) leaves the remembered one
// as it was.
func TestMemoAnswersAsANewEvaluation(t *testing.T) {
	g := newGraceEnv(t, 0)
	g.clock.Advance(time.Minute)
	var dec posture.Decision
	for _, d := range g.h.Load().Devices {
		if g.ask(&dec, d.ID) {
			t.Fatalf("%s: the first request was answered from the memo", d.Host)
		}
		first := dec.Clone()
		for range 2 {
			if !g.ask(&dec, d.ID) {
				t.Fatalf("%s: a repeat within the second was evaluated again", d.Host)
			}
			if want := g.fresh(d.ID); !reflect.DeepEqual(dec.Checks, want.Checks) || dec.Allowed != want.Allowed ||
				dec.Match != want.Match || !dec.ValidUntil.Equal(want.ValidUntil) {
				t.Fatalf("%s: from the memo %+v,\nevaluated %+v", d.Host, dec, want)
			}
			// Another device's decision written over the copy.
			g.e.EvaluateInto(&dec, posture.Request{DefenderMachineID: g.high.ID, Report: posture.Report{OS: "macOS"}})
		}
		if !reflect.DeepEqual(first.Checks, g.fresh(d.ID).Checks) {
			t.Fatalf("%s: the remembered decision changed", d.Host)
		}
	}
	if g.ask(&dec, "no-such-device") || !g.ask(&dec, "no-such-device") || dec.Match.Device != nil || dec.Allowed {
		t.Errorf("an unknown device: %+v", dec)
	}
}

// The memo never answers past what its decision depended on: the moment
// the decision's ValidUntil names, a Reload, a new snapshot, a second
// gone by; and it never remembers a request with a device report.
func TestMemoNeverOutlivesItsDecision(t *testing.T) {
	g := newGraceEnv(t, 0)
	ctx := context.Background()
	var dec posture.Decision

	// The data turns stale: the Low device's allow ends at ValidUntil.
	g.clock.Advance(15*time.Minute - 500*time.Millisecond)
	g.ask(&dec, g.low.ID)
	if !dec.Allowed || dec.ValidUntil.IsZero() || dec.ValidUntil.Sub(g.clock.Now()) >= memoTTL {
		t.Fatalf("at the edge of staleness: allowed %v, valid until %v (now %v)", dec.Allowed, dec.ValidUntil, g.clock.Now())
	}
	g.clock.Advance(dec.ValidUntil.Sub(g.clock.Now()))
	if g.ask(&dec, g.low.ID) {
		t.Fatal("answered from the memo at the decision's ValidUntil")
	}
	if want := g.fresh(g.low.ID); dec.Allowed != want.Allowed || !reflect.DeepEqual(dec.Checks, want.Checks) {
		t.Fatalf("after ValidUntil: %+v, want %+v", dec, want)
	}

	// A check edited: the next answer is the new policy's.
	g.ask(&dec, g.high.ID)
	if !g.ask(&dec, g.high.ID) || dec.Allowed {
		t.Fatalf("the High device: a repeat evaluated again, or allowed (%v)", dec.Allowed)
	}
	relaxed := check(t, "High risk allowed", posture.ModeEnforce, posture.Spec{MaxRisk: "High"})
	if _, err := g.st.SavePostureCheck(ctx, relaxed, "test", audit.Entry{Actor: "test", Action: audit.CheckCreated, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	if err := g.e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if g.ask(&dec, g.high.ID) || len(dec.Checks) != 2 {
		t.Fatalf("after a Reload: %d checks, want the new one too", len(dec.Checks))
	}

	// A new snapshot: the High device is Low now.
	g.ask(&dec, g.high.ID)
	devices := append([]fleet.Device(nil), g.h.Load().Devices...)
	devices[1].RiskScore = "Low"
	g.h.Store(fleet.NewSnapshot(devices, g.clock.Now(), 2))
	if g.ask(&dec, g.high.ID) || !dec.Allowed {
		t.Fatalf("after a new snapshot: allowed %v, want the new data's allow", dec.Allowed)
	}

	// A second later the memo is gone.
	g.ask(&dec, g.high.ID)
	g.clock.Advance(memoTTL)
	if g.ask(&dec, g.high.ID) {
		t.Error("answered from a memo a second old")
	}

	// A request with a device report is never remembered.
	withReport := posture.Request{DefenderMachineID: g.low.ID, Report: posture.Report{OS: "Windows"}}
	hits := 0
	g.e.onMemoHit = func() { hits++ }
	for range 3 {
		g.e.EvaluateInto(&dec, withReport)
	}
	g.e.onMemoHit = nil
	if hits != 0 {
		t.Error("a request with a device report was answered from the memo")
	}
}

// The memo holds at most memoMax decisions; the requests past it are
// evaluated every time.
func TestMemoIsBounded(t *testing.T) {
	g := newGraceEnv(t, 0)
	var dec posture.Decision
	for i := range memoMax + 10 {
		g.ask(&dec, fmt.Sprintf("unknown-%d", i))
	}
	if n := len(g.e.memo.Load().m); n != memoMax {
		t.Errorf("%d decisions remembered, want %d", n, memoMax)
	}
	if g.ask(&dec, fmt.Sprintf("unknown-%d", memoMax+5)) {
		t.Error("a request past the bound was answered from the memo")
	}
}
