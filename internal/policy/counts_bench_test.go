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
)

// memStore is an EngineStore in memory, so that the benchmark measures the
// whole-fleet pass and not SQLite.
type memStore struct{ checks []model.PostureCheck }

func (m *memStore) PostureChecks(context.Context) ([]model.PostureCheck, error) { return m.checks, nil }
func (m *memStore) Exceptions(context.Context, model.ExceptionFilter) ([]model.Exception, error) {
	return nil, nil
}
func (m *memStore) AppendHistory(_ context.Context, c model.Cause, _ []model.HistoryEntry, _ audit.Entry) (model.Cause, error) {
	return c, nil
}

func benchDevices(n int, now time.Time) []fleet.Device {
	risks := []string{"None", "Informational", "Low", "Medium", "High", ""}
	health := []string{"Active", "Active", "Active", "Inactive", "ImpairedCommunication"}
	out := make([]fleet.Device, n)
	for i := range out {
		out[i] = fleet.Device{ID: fmt.Sprintf("%040x", i+1), Host: fmt.Sprintf("host-%06d.corp.example", i),
			AADDeviceID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), OSPlatform: []string{"Windows11", "Windows10", "macOS", "Linux"}[i%4],
			OSBuild: 19045 + int64(i%4000), HealthStatus: health[i%len(health)], RiskScore: risks[i%len(risks)],
			ExposureLevel: []string{"Low", "Medium", "High"}[i%3], OnboardingStatus: "Onboarded", AVStatus: "Updated",
			IsAADJoined: i%3 != 0, LastSeen: now.Add(-time.Duration(i%96) * time.Hour), Tags: []string{"corp", fmt.Sprintf("team-%d", i%20)},
			Removed: i%97 == 0}
	}
	return out
}

func benchCheckRows(b *testing.B) []model.PostureCheck {
	specs := []posture.Spec{
		{MaxRisk: "Medium"}, {HealthActive: true}, {MaxExposure: "Medium"}, {LastSeenHours: 72},
		{MinOSBuild: map[string]int64{"Windows11": 22631, "Windows10": 19045}}, {RequiredTags: []string{"corp"}},
		{RequireEntraJoined: true}, {RequireOnboarded: true}, {AVStatuses: []string{"Updated"}},
	}
	var out []model.PostureCheck
	for i, s := range specs {
		raw, err := json.Marshal(s)
		if err != nil {
			b.Fatal(err)
		}
		mode := posture.ModeEnforce
		if i%3 == 2 {
			mode = posture.ModeMonitor
		}
		out = append(out, model.PostureCheck{ID: int64(i + 1), Name: fmt.Sprintf("Check %d", i+1), DataSource: posture.SourceDefender,
			Mode: mode, Enabled: true, WhenUnavailable: posture.UnavailableDeny, Spec: string(raw)})
	}
	return out
}

// BenchmarkRecompute100k is the whole-fleet pass that makes the counts
// current again after a check is saved, a sync, or the data going stale:
// the time the console says "recalculating…" (at most 5 s at 100,000
// devices). "kept" is the pass during an outage grace, which evaluates
// every device a second time to count those the outage will deny, and
// "unavailable" the pass after it, which counts those it denies.
func BenchmarkRecompute100k(b *testing.B) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name string
		age  time.Duration
	}{{"fresh", time.Minute}, {"kept", time.Hour}, {"unavailable", 10 * time.Hour}} {
		b.Run(bc.name, func(b *testing.B) {
			var h fleet.Holder
			h.Store(fleet.NewSnapshot(benchDevices(100_000, now), now.Add(-bc.age), 1))
			enabled := func(context.Context) (bool, error) { return true, nil }
			e := New(&memStore{checks: benchCheckRows(b)}, &h, enabled, 5*time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)),
				func() time.Time { return now })
			if err := e.Reload(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := e.refresh(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if !e.Tally().Current {
				b.Fatal("the counts are not current after a pass")
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pass")
		})
	}
}
