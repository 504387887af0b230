package policy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/posture"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

var synced = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// The staleness rule at its edges: stale strictly after 3 intervals, kept
// until the grace ends (exclusive), unavailable from then on; no grace
// means unavailable at once; never synced is unavailable.
func TestFreshnessEdges(t *testing.T) {
	snap := fleet.NewSnapshot(nil, synced, 1)
	staleAt, keptUntil := synced.Add(15*time.Minute), synced.Add(15*time.Minute+4*time.Hour)
	for _, c := range []struct {
		name  string
		grace time.Duration
		at    time.Time
		want  Phase
		next  time.Time
	}{
		{"just synced", 4 * time.Hour, synced, Fresh, staleAt},
		{"at 3 intervals", 4 * time.Hour, staleAt, Fresh, staleAt},
		{"just after 3 intervals", 4 * time.Hour, staleAt.Add(time.Nanosecond), Kept, keptUntil},
		{"just before the grace ends", 4 * time.Hour, keptUntil.Add(-time.Nanosecond), Kept, keptUntil},
		{"when the grace ends", 4 * time.Hour, keptUntil, Unavailable, time.Time{}},
		{"no grace", 0, staleAt.Add(time.Nanosecond), Unavailable, time.Time{}},
	} {
		f := freshnessAt(snap, 5*time.Minute, c.grace, c.at)
		if f.Phase != c.want || !f.next(c.at).Equal(c.next) && f.Phase != Fresh {
			t.Errorf("%s: phase %v next %v, want %v next %v", c.name, f.Phase, f.next(c.at), c.want, c.next)
		}
		if c.want == Fresh && !f.next(c.at).Equal(staleAt) && c.at.Before(staleAt) {
			t.Errorf("%s: next %v, want %v", c.name, f.next(c.at), staleAt)
		}
	}
	if f := freshnessAt(fleet.NewSnapshot(nil, time.Time{}, 0), 5*time.Minute, time.Hour, synced); f.Phase != Unavailable {
		t.Errorf("never synced: phase %v, want unavailable", f.Phase)
	}
	if f := freshnessAt(snap, 0, 0, synced.Add(1000*time.Hour)); f.Phase != Fresh {
		t.Errorf("staleness off: phase %v, want fresh", f.Phase)
	}
}

type graceEnv struct {
	e     *Engine
	st    *store.Store
	h     *fleet.Holder
	clock *testkit.Clock
	low   *fleet.Device // passes "Low risk only"
	high  *fleet.Device // fails it
}

// newGraceEnv is an engine with a 5-minute interval and the given grace over
// 40 devices synced at synced (half Low, half High risk) and one Enforce
// check "Low risk only" (Deny when data is unavailable).
func newGraceEnv(t *testing.T, grace time.Duration) *graceEnv {
	t.Helper()
	clock := testkit.NewClock(synced)
	st := teststore.Open(t, store.Options{Now: clock.Now})
	c := check(t, "Low risk only", posture.ModeEnforce, posture.Spec{MaxRisk: "Low"})
	if _, err := st.SavePostureCheck(context.Background(), c, "test", audit.Entry{Actor: "test", Action: audit.CheckCreated, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	var devices []fleet.Device
	for i := range 40 {
		devices = append(devices, fleet.Device{ID: fmt.Sprintf("%040x", i+1), Host: fmt.Sprintf("pc-%02d", i),
			RiskScore: []string{"Low", "High"}[i%2], HealthStatus: "Active", OnboardingStatus: "Onboarded"})
	}
	g := &graceEnv{st: st, h: &fleet.Holder{}, clock: clock}
	g.h.Store(fleet.NewSnapshot(devices, synced, 1))
	g.low, g.high = &g.h.Load().Devices[0], &g.h.Load().Devices[1]
	enabled := func(context.Context) (bool, error) { return true, nil }
	g.e = New(st, g.h, enabled, 5*time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.Now)
	g.e.SetOutageGrace(func(context.Context) (time.Duration, error) { return grace, nil })
	if err := g.e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return g
}

// at moves the clock to synced+d and recomputes the counts.
func (g *graceEnv) at(t *testing.T, d time.Duration) Tally {
	t.Helper()
	g.clock.Advance(synced.Add(d).Sub(g.clock.Now()))
	if err := g.e.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tl := g.e.Tally()
	if !tl.Current {
		t.Fatalf("at +%v: the counts of a fresh pass are not current", d)
	}
	return tl
}

func (g *graceEnv) reasons(d *fleet.Device) (bool, string) {
	dec := g.e.Evaluate(posture.Request{DefenderMachineID: d.ID})
	var rs []string
	for _, c := range dec.Checks {
		rs = append(rs, c.Reasons...)
	}
	return dec.Allowed, strings.Join(rs, "; ")
}

// Through an outage with a 2-hour grace: the data is used as usual until 3
// intervals, kept (every reason says so) until the grace ends, unavailable
// after; the counts follow at each edge and say how many devices the
// outage decides for.
func TestOutageGraceEdges(t *testing.T) {
	g := newGraceEnv(t, 2*time.Hour)
	staleAt := 15 * time.Minute
	keptUntil := staleAt + 2*time.Hour

	tl := g.at(t, staleAt)
	if ok, r := g.reasons(g.high); ok || strings.Contains(r, "kept") || !strings.Contains(r, "High") {
		t.Errorf("at 3 intervals: high allowed %v, reasons %q; want denied on fresh data", ok, r)
	}
	if tl.Freshness.Phase != Fresh || tl.Overall.Pass != 20 || tl.Outage != 0 {
		t.Errorf("at 3 intervals: %+v, want fresh, 20 allowed, no outage", tl)
	}

	tl = g.at(t, staleAt+time.Second)
	if ok, r := g.reasons(g.low); !ok {
		t.Errorf("in the grace: low denied (%q), want allowed on the kept data", r)
	}
	if ok, r := g.reasons(g.high); ok || !strings.Contains(r, "High") || !strings.Contains(r, "2026-11-25T10:00:00Z, kept during an outage)") {
		t.Errorf("in the grace: high allowed %v, reasons %q; want denied, saying the data is kept", ok, r)
	}
	if tl.Freshness.Phase != Kept || tl.Overall.Pass != 20 || tl.Outage != 20 {
		t.Errorf("in the grace: %+v; want kept, 20 allowed, 20 to be denied when it ends", tl)
	}
	if !tl.Freshness.KeptUntil.Equal(synced.Add(keptUntil)) {
		t.Errorf("kept until %v, want %v", tl.Freshness.KeptUntil, synced.Add(keptUntil))
	}

	// The clock crosses the end of the grace: the old counts stop being
	// current at that very moment, before any recompute.
	g.clock.Advance(synced.Add(keptUntil).Sub(g.clock.Now()))
	if g.e.Tally().Current {
		t.Error("the grace ended but the counts of the grace still say they are current")
	}
	tl = g.at(t, keptUntil)
	if ok, r := g.reasons(g.low); ok || !strings.Contains(r, "stale") || strings.Contains(r, "kept") {
		t.Errorf("after the grace: low allowed %v, reasons %q; want denied as unknown (stale)", ok, r)
	}
	if tl.Freshness.Phase != Unavailable || tl.Overall.Pass != 0 || tl.Overall.Unknown != 40 || tl.Outage != 20 {
		t.Errorf("after the grace: %+v; want unavailable, 40 unknown, 20 denied because of it", tl)
	}

	// A sync ends the outage.
	g.h.Store(fleet.NewSnapshot(g.h.Load().Devices, synced.Add(keptUntil), 2))
	if g.e.Tally().Current {
		t.Error("a new snapshot is in but the counts of the old one say they are current")
	}
	tl = g.at(t, keptUntil+time.Second)
	if tl.Freshness.Phase != Fresh || tl.Overall.Pass != 20 || tl.Outage != 0 {
		t.Errorf("after a sync: %+v, want fresh, 20 allowed", tl)
	}
}

// With no grace, stale data is unavailable the moment it goes stale.
func TestNoOutageGrace(t *testing.T) {
	g := newGraceEnv(t, 0)
	tl := g.at(t, 15*time.Minute+time.Second)
	if ok, r := g.reasons(g.low); ok || !strings.Contains(r, "stale") {
		t.Errorf("low allowed %v, reasons %q; want denied as unknown", ok, r)
	}
	if tl.Freshness.Phase != Unavailable || tl.Overall.Unknown != 40 || tl.Outage != 20 {
		t.Errorf("%+v; want unavailable, 40 unknown, 20 denied because of it", tl)
	}
}

// The counts are current only for the checks they were computed with: a
// saved check makes them lag until the next pass; a reload that reads the
// same checks keeps them current.
func TestTallyFollowsReload(t *testing.T) {
	g := newGraceEnv(t, time.Hour)
	ctx := context.Background()
	g.at(t, time.Minute)
	if err := g.e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !g.e.Tally().Current {
		t.Error("a reload that changed nothing made the counts lag")
	}
	gen := g.e.Generation()
	c := check(t, "Healthy", posture.ModeEnforce, posture.Spec{HealthActive: true})
	saved, err := g.st.SavePostureCheck(ctx, c, "test", audit.Entry{Actor: "test", Action: audit.CheckCreated, Outcome: audit.Success})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if tl := g.e.Tally(); tl.Current || g.e.Generation() != gen+1 {
		t.Errorf("after a new check: current %v, generation %d (was %d); want lagging, next generation", tl.Current, g.e.Generation(), gen)
	}
	tl := g.at(t, 2*time.Minute)
	if n := tl.PerCheck[saved.ID]; n.Pass != 40 {
		t.Errorf("the new check counts %+v, want 40 passing", n)
	}
}
