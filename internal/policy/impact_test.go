package policy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// impactFleet is n devices whose risk cycles None, Low, High, (none) and
// whose health is Inactive for every fifth; the last one is removed.
func impactFleet(n int, now time.Time) []fleet.Device {
	risks := []string{"None", "Low", "High", ""}
	var out []fleet.Device
	for i := range n {
		health := "Active"
		if i%5 == 4 {
			health = "Inactive"
		}
		out = append(out, fleet.Device{ID: fmt.Sprintf("%040x", i+1), Host: fmt.Sprintf("pc-%03d", i), OSPlatform: "Windows11",
			RiskScore: risks[i%4], HealthStatus: health, OnboardingStatus: "Onboarded", LastSeen: now, Removed: i == n-1})
	}
	return out
}

func addException(t *testing.T, st *store.Store, deviceID string, checkID int64, expires time.Time) {
	t.Helper()
	if _, err := st.CreateException(context.Background(), model.Exception{DeviceID: deviceID, CheckID: checkID, Reason: "test",
		ExpiresAt: expires, CreatedBy: "test"}, audit.Entry{Actor: "test", Action: audit.ExceptionCreated, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
}

// The preview says what a draft does to access: unknown devices fall in
// denied or allowed as When data is unavailable says, exceptions let
// devices through, Monitor only denies nobody, and the change against
// today leaves out the devices another check denies already.
func TestPreviewCountsInTermsOfAccess(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	devices := impactFleet(41, now)
	e, st, _ := newTestEngine(t, now, devices, check(t, "Healthy", posture.ModeEnforce, posture.Spec{HealthActive: true}))
	excepted := devices[2].ID // a High-risk device
	addException(t, st, excepted, 0, now.Add(24*time.Hour))
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	draft := func(mode, unavailable string) posture.Check {
		return posture.Check{Name: "Risk", Source: posture.SourceDefender, Mode: mode, WhenUnavailable: unavailable,
			Enabled: true, Spec: posture.Spec{MaxRisk: "Medium"}}
	}
	for _, tc := range []struct{ mode, unavailable string }{
		{posture.ModeEnforce, posture.UnavailableDeny}, {posture.ModeEnforce, posture.UnavailableAllow},
		{posture.ModeMonitor, posture.UnavailableDeny},
	} {
		t.Run(tc.mode+"/"+tc.unavailable, func(t *testing.T) {
			imp := e.Preview(draft(tc.mode, tc.unavailable), 3)
			var want Impact
			for _, d := range devices {
				if d.Removed {
					continue
				}
				want.Devices++
				raw := map[string]posture.Result{"None": posture.Pass, "Low": posture.Pass, "High": posture.Fail, "": posture.Unknown}[d.RiskScore]
				passes := raw == posture.Pass || (raw == posture.Unknown && tc.unavailable == posture.UnavailableAllow) || d.ID == excepted
				if d.ID == excepted && raw != posture.Pass {
					want.Excepted++
				} else if raw == posture.Unknown {
					want.NoData++
				}
				denied := !passes && tc.mode == posture.ModeEnforce
				if !passes {
					want.Failing++
				}
				if denied {
					want.Denied++
				} else {
					want.Allowed++
				}
				if denied && d.HealthStatus == "Active" {
					want.NewlyDenied++ // allowed today: no other check denies it
				}
			}
			if imp.Devices != want.Devices || imp.Allowed != want.Allowed || imp.Denied != want.Denied ||
				imp.NoData != want.NoData || imp.Excepted != want.Excepted || imp.Failing != want.Failing ||
				imp.NewlyDenied != want.NewlyDenied || imp.NewlyAllowed != 0 {
				t.Errorf("impact %+v\nwant devices %d allowed %d denied %d no data %d excepted %d failing %d newly denied %d",
					imp, want.Devices, want.Allowed, want.Denied, want.NoData, want.Excepted, want.Failing, want.NewlyDenied)
			}
			if tc.mode == posture.ModeMonitor && (imp.Denied != 0 || !imp.Monitor) {
				t.Errorf("monitor only: denied %d, monitor %v", imp.Denied, imp.Monitor)
			}
			if len(imp.Denials) != min(3, want.NewlyDenied) {
				t.Errorf("denials %d, want %d", len(imp.Denials), min(3, want.NewlyDenied))
			}
			for _, d := range imp.Denials {
				if len(d.Reasons) == 0 {
					t.Errorf("denial %s without a reason", d.Host)
				}
			}
		})
	}
}

// Editing a stored check compares against its stored version: relaxing it
// allows again the devices it alone denied, and a disabled draft denies
// nobody.
func TestPreviewChangeAgainstStoredCheck(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	devices := impactFleet(40, now)
	e, _, _ := newTestEngine(t, now, devices, check(t, "Low risk", posture.ModeEnforce, posture.Spec{MaxRisk: "Low"}))
	stored := e.Checks()[0]
	relaxed := stored
	relaxed.WhenUnavailable = posture.UnavailableAllow
	imp := e.Preview(relaxed, 0)
	want := 0
	for _, d := range devices {
		if !d.Removed && d.RiskScore == "" {
			want++
		}
	}
	if imp.NewlyAllowed != want || imp.NewlyDenied != 0 {
		t.Errorf("relaxed: newly allowed %d (want %d), newly denied %d (want 0)", imp.NewlyAllowed, want, imp.NewlyDenied)
	}
	off := stored
	off.Enabled = false
	if imp := e.Preview(off, 0); imp.NewlyDenied != 0 || imp.NewlyAllowed != imp.Denied || imp.Denied == 0 {
		t.Errorf("disabled draft: %+v, want nobody newly denied and its %d denials allowed again", imp, imp.Denied)
	}
}

// The Disable impact is what the engine answers once Defender is
// disabled: the test disables it for real and compares with every device's
// decision; switches to Monitor only or Allow leave nobody denied by them.
func TestDisableImpactMatchesTheDecisionsAfterDisable(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	devices := impactFleet(30, now)
	ctx := context.Background()
	st := teststore.Open(t, store.Options{Now: func() time.Time { return now }})
	allow := check(t, "Lenient", posture.ModeEnforce, posture.Spec{HealthActive: true})
	allow.WhenUnavailable = posture.UnavailableAllow
	for _, c := range []model.PostureCheck{check(t, "Risk", posture.ModeEnforce, posture.Spec{MaxRisk: "Medium"}), allow,
		check(t, "Watch", posture.ModeMonitor, posture.Spec{RequireOnboarded: true})} {
		if _, err := st.SavePostureCheck(ctx, c, "test", audit.Entry{Actor: "test", Action: audit.CheckCreated, Outcome: audit.Success}); err != nil {
			t.Fatal(err)
		}
	}
	addException(t, st, devices[0].ID, 0, now.Add(time.Hour))
	var h fleet.Holder
	h.Store(fleet.NewSnapshot(devices, now.Add(-time.Minute), 1))
	var enabled atomic.Bool
	enabled.Store(true)
	e := New(st, &h, func(context.Context) (bool, error) { return enabled.Load(), nil }, 5*time.Minute,
		slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	allowedToday := map[string]bool{}
	for i := range devices {
		allowedToday[devices[i].ID] = e.DeviceDecision(&devices[i]).Allowed
	}
	di := e.DisableImpact(nil)
	if len(di.Checks) != 3 {
		t.Fatalf("checks %+v, want the three Defender checks", di.Checks)
	}
	enabled.Store(false)
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	var denied, allowed, newly int
	for i := range devices {
		if devices[i].Removed {
			continue
		}
		if e.DeviceDecision(&devices[i]).Allowed {
			allowed++
		} else {
			denied++
			if allowedToday[devices[i].ID] {
				newly++
			}
		}
	}
	if di.Denied != denied || di.Allowed != allowed || di.NewlyDenied != newly || di.Devices != denied+allowed {
		t.Errorf("disable impact %+v, want denied %d allowed %d newly denied %d", di, denied, allowed, newly)
	}
	byName := map[string]DisabledCheck{}
	for _, c := range di.Checks {
		byName[c.Name] = c
	}
	if denied != di.Devices-1 || byName["Risk"].Denies != denied || byName["Lenient"].Denies != 0 || byName["Watch"].Denies != 0 {
		t.Errorf("per check %+v: only Risk (Deny) denies, every device but the excepted one", di.Checks)
	}
	risk := byName["Risk"].ID
	for _, sw := range []string{SwitchMonitor, SwitchAllow} {
		got := e.DisableImpact(map[int64]string{risk: sw})
		if got.Denied != 0 || got.Allowed != got.Devices {
			t.Errorf("switch %s: %+v, want nobody denied", sw, got)
		}
	}
}

// A Device report check is decided per request: the counts over synced
// devices (dashboard, checks list) leave it out instead of calling every
// synced device unknown.
func TestDeviceReportChecksAreNotCounted(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	devices := impactFleet(20, now)
	report := check(t, "Firewall", posture.ModeEnforce, posture.Spec{ReportFirewall: true})
	report.DataSource = posture.SourceDeviceReport
	e, _, _ := newTestEngine(t, now, devices, report, check(t, "Onboarded", posture.ModeEnforce, posture.Spec{RequireOnboarded: true}))
	if err := e.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tally := e.Tally()
	counts, overall := tally.PerCheck, tally.Overall
	var reportID int64
	for _, c := range e.Checks() {
		if c.PerRequest() {
			reportID = c.ID
		}
	}
	if _, counted := counts[reportID]; counted || overall.Unknown != 0 || overall.Pass != len(devices)-1 {
		t.Errorf("counts %v, overall %+v: want every active device passing and the report check not counted", counts, overall)
	}
	// The preview leaves it out too: a Defender draft that every device
	// passes denies nobody new.
	if imp := e.Preview(posture.Check{Name: "x", Source: posture.SourceDefender, Enabled: true,
		Spec: posture.Spec{RequireOnboarded: true}}, 0); imp.NewlyDenied != 0 || imp.Denied != 0 {
		t.Errorf("preview %+v", imp)
	}
}
