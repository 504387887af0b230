package policy

import (
	"testing"
	"time"

	"postern/internal/fleet"
	"postern/internal/posture"
)

func TestValidUntil(t *testing.T) {
	now := synced.Add(time.Minute)
	snap := fleet.NewSnapshot(nil, synced, 1)
	fresh := freshnessAt(snap, 5*time.Minute, time.Hour, now) // stale at synced+15m
	staleAt := synced.Add(15 * time.Minute)
	dev := &fleet.Device{ID: "abc", LastSeen: now.Add(-47*time.Hour - 59*time.Minute), FirstSeen: now.Add(-time.Hour)}
	risk := posture.Check{ID: 1, Enabled: true, Source: posture.SourceDefender, Spec: posture.Spec{MaxRisk: "Low"}}
	seen := posture.Check{ID: 2, Enabled: true, Source: posture.SourceDefender, Spec: posture.Spec{LastSeenHours: 48}}
	grace := posture.Check{ID: 3, Enabled: true, Source: posture.SourceDefender, Spec: posture.Spec{MaxRisk: "Low", FirstSeenGraceHours: 2}}
	report := posture.Check{ID: 4, Enabled: true, Source: posture.SourceDeviceReport, Spec: posture.Spec{ReportFirewall: true}}
	off := seen
	off.Enabled = false
	ex := func(id string, at time.Time) posture.Exception { return posture.Exception{DeviceID: id, ExpiresAt: at} }

	for _, c := range []struct {
		name  string
		s     state
		fresh Freshness
		d     *fleet.Device
		want  time.Time
	}{
		{"data turning stale", state{checks: []posture.Check{risk}, defenderEnabled: true}, fresh, dev, staleAt},
		{"outage grace ending", state{checks: []posture.Check{risk}, defenderEnabled: true},
			freshnessAt(snap, 5*time.Minute, time.Hour, staleAt.Add(time.Minute)), dev, staleAt.Add(time.Hour)},
		{"past the grace nothing moves", state{checks: []posture.Check{risk}, defenderEnabled: true},
			freshnessAt(snap, 5*time.Minute, time.Hour, staleAt.Add(2*time.Hour)), nil, time.Time{}},
		{"last seen window closing first", state{checks: []posture.Check{risk, seen}, defenderEnabled: true}, fresh, dev, now.Add(time.Minute)},
		{"a disabled check does not count", state{checks: []posture.Check{risk, off}, defenderEnabled: true}, fresh, dev, staleAt},
		{"an exception expiring first", state{checks: []posture.Check{risk}, defenderEnabled: true,
			exceptions: []posture.Exception{ex("ABC", now.Add(5*time.Minute)), ex("other", now.Add(time.Second)), ex("abc", now.Add(-time.Second))}},
			fresh, dev, now.Add(5 * time.Minute)},
		{"first seen grace ending", state{checks: []posture.Check{grace}}, fresh, dev, now.Add(time.Hour)},
		{"Defender disabled: freshness does not count", state{checks: []posture.Check{risk}}, fresh, dev, time.Time{}},
		{"only device report checks", state{checks: []posture.Check{report}, defenderEnabled: true}, fresh, dev, time.Time{}},
		{"no device matched: only freshness", state{checks: []posture.Check{risk, seen}, defenderEnabled: true,
			exceptions: []posture.Exception{ex("abc", now.Add(time.Second))}}, fresh, nil, staleAt},
	} {
		at := now
		if t, ok := map[string]time.Time{"outage grace ending": staleAt.Add(time.Minute),
			"past the grace nothing moves": staleAt.Add(2 * time.Hour)}[c.name]; ok {
			at = t
		}
		if got := validUntil(&c.s, c.fresh, c.d, at); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
