package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// impactBenchDevices is n devices with varied signals, some with no risk score.
func impactBenchDevices(n int, now time.Time) []fleet.Device {
	risks := []string{"None", "Informational", "Low", "Medium", "High", ""}
	platforms := []string{"Windows11", "Windows10", "macOS", "Linux"}
	out := make([]fleet.Device, n)
	for i := range out {
		out[i] = fleet.Device{ID: fmt.Sprintf("%040x", i+1), Host: fmt.Sprintf("host-%06d", i),
			OSPlatform: platforms[i%len(platforms)], OSBuild: 22000 + int64(i%700), RiskScore: risks[i%len(risks)],
			HealthStatus: []string{"Active", "Active", "Active", "Inactive"}[i%4], OnboardingStatus: "Onboarded",
			AVStatus: "Updated", LastSeen: now.Add(-time.Duration(i%72) * time.Hour), Tags: []string{"corp"}}
	}
	return out
}

// The preview and the Disable dialog's figures over 100,000 devices with
// four checks in force: each is computed on every editor change, so each
// must take well under a second.
func BenchmarkImpact100k(b *testing.B) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	st := teststore.Open(b, store.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	for _, c := range []struct {
		name, mode string
		spec       posture.Spec
	}{
		{"Risk", posture.ModeEnforce, posture.Spec{MaxRisk: "Medium"}},
		{"Healthy", posture.ModeEnforce, posture.Spec{HealthActive: true, RequireOnboarded: true}},
		{"Seen", posture.ModeMonitor, posture.Spec{LastSeenHours: 48}},
		{"Build", posture.ModeEnforce, posture.Spec{MinOSBuild: map[string]int64{"Windows11": 22400}}},
	} {
		raw, _ := json.Marshal(c.spec)
		if _, err := st.SavePostureCheck(ctx, model.PostureCheck{Name: c.name, DataSource: posture.SourceDefender, Mode: c.mode,
			Enabled: true, WhenUnavailable: posture.UnavailableDeny, Spec: string(raw)}, "bench",
			audit.Entry{Actor: "bench", Action: audit.CheckCreated, Outcome: audit.Success}); err != nil {
			b.Fatal(err)
		}
	}
	var h fleet.Holder
	h.Store(fleet.NewSnapshot(impactBenchDevices(100_000, now), now.Add(-time.Minute), 1))
	e := New(st, &h, func(context.Context) (bool, error) { return true, nil }, 5*time.Minute,
		slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if err := e.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	draft := e.Checks()[0]
	draft.Spec = posture.Spec{MaxRisk: "Low", MaxExposure: "Medium"}
	draft = posture.Compile([]posture.Check{draft})[0]
	b.Run("preview-edit", func(b *testing.B) {
		for b.Loop() {
			e.Preview(draft, 5)
		}
	})
	b.Run("disable", func(b *testing.B) {
		for b.Loop() {
			e.DisableImpact(nil)
		}
	})
}
