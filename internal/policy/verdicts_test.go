package policy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"postern/internal/fleet"
	"postern/internal/posture"
)

// DeviceVerdicts gives each active device the verdict DeviceDecision (the
// API) gives it, its sets hold as many devices as Tally counts, and they
// stop being current as soon as the checks change.
func TestDeviceVerdicts(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	risks := []string{"None", "Low", "High", ""}
	var devices []fleet.Device
	for i := range 200 {
		devices = append(devices, fleet.Device{ID: fmt.Sprintf("%040x", i+1), Host: fmt.Sprintf("pc-%03d", i),
			OSPlatform: "Windows11", HealthStatus: "Active", RiskScore: risks[i%len(risks)], OnboardingStatus: "Onboarded",
			LastSeen: now, Removed: i%40 == 39})
	}
	e, _, h := newTestEngine(t, now, devices, check(t, "Risk", posture.ModeEnforce, posture.Spec{MaxRisk: "Low"}))
	if dv := e.DeviceVerdicts(); dv.Current || dv.With(posture.Pass).Len() != 0 {
		t.Fatal("verdicts before any pass")
	}
	if err := e.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	dv := e.DeviceVerdicts()
	if !dv.Current {
		t.Fatal("the verdicts of the last pass are not current")
	}
	by := map[posture.Result]int{}
	for i := range h.Load().Devices {
		d := &h.Load().Devices[i]
		got, ok := dv.Of(d.ID)
		if d.Removed {
			if ok || dv.With(posture.Pass).Has(d.ID) {
				t.Errorf("removed device %s has verdict %q", d.ID, got)
			}
			continue
		}
		dec := e.DeviceDecision(d)
		want := posture.Pass
		if !dec.Allowed {
			want = posture.Unknown
			if dec.Checks[0].Result == posture.Fail {
				want = posture.Fail
			}
		}
		if got != want || !ok || !dv.With(want).Has(d.ID) {
			t.Errorf("device %s (risk %q): verdict %q, the API's %q", d.ID, d.RiskScore, got, want)
		}
		by[want]++
	}
	tl := e.Tally()
	counts := [3]int{dv.With(posture.Pass).Len(), dv.With(posture.Fail).Len(), dv.With(posture.Unknown).Len()}
	if want := [3]int{tl.Overall.Pass, tl.Overall.Fail, tl.Overall.Unknown}; counts != want || by[posture.Fail] == 0 || by[posture.Unknown] == 0 {
		t.Errorf("sets hold %v, Tally counts %v (by the API: %v)", counts, want, by)
	}
	if dv.With(posture.Pass).Has("no-such-device") {
		t.Error("an unknown device is in a set")
	}
	e.st.Store(&state{checks: e.st.Load().checks, gen: e.Generation() + 1, defenderEnabled: true, grace: e.st.Load().grace})
	if e.DeviceVerdicts().Current {
		t.Error("verdicts stay current after the checks changed")
	}
}
