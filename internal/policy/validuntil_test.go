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
	// Antivirus windows: signatures at most 7 days old (their limit reached
	// 3 minutes from now), a full scan within 14 days (2 minutes from now).
	avDev := *dev
	avDev.AV = &fleet.AV{SignaturePublishedAt: now.Add(-7*24*time.Hour + 3*time.Minute), FullScanAt: now.Add(-14*24*time.Hour + 2*time.Minute)}
	oldAV := *dev
	oldAV.AV = &fleet.AV{SignaturePublishedAt: now.Add(-30 * 24 * time.Hour), FullScanAt: now.Add(-30 * 24 * time.Hour)}
	noAV := *dev
	sigAge := posture.Check{ID: 5, Enabled: true, Source: posture.SourceDefender, Spec: posture.Spec{SignatureMaxAgeDays: 7}}
	sigFlag := posture.Check{ID: 6, Enabled: true, Source: posture.SourceDefender, Spec: posture.Spec{SignatureUpToDate: true}}
	scan := posture.Check{ID: 7, Enabled: true, Source: posture.SourceDefender, Spec: posture.Spec{FullScanDays: 14}}
	sigLong := posture.Check{ID: 8, Enabled: true, Source: posture.SourceDefender, Spec: posture.Spec{SignatureMaxAgeDays: 10000}}
	longAV := *dev
	longAV.AV = &fleet.AV{SignaturePublishedAt: now.Add(-posture.MaxSignatureAgeDays*24*time.Hour + 4*time.Minute)}

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
		{"signature age limit reached first", state{checks: []posture.Check{risk, sigAge}, defenderEnabled: true}, fresh, &avDev, now.Add(3 * time.Minute)},
		{"full scan window closing first", state{checks: []posture.Check{risk, sigAge, scan}, defenderEnabled: true}, fresh, &avDev, now.Add(2 * time.Minute)},
		{"the up-to-date flag has no window", state{checks: []posture.Check{risk, sigFlag}, defenderEnabled: true}, fresh, &avDev, staleAt},
		{"windows already closed do not count", state{checks: []posture.Check{risk, sigAge, scan}, defenderEnabled: true}, fresh, &oldAV, staleAt},
		{"no antivirus report: no windows", state{checks: []posture.Check{risk, sigAge, scan}, defenderEnabled: true}, fresh, &noAV, staleAt},
		{"signature age capped as the condition caps it", state{checks: []posture.Check{risk, sigLong}, defenderEnabled: true}, fresh, &longAV, now.Add(4 * time.Minute)},
		{"a disabled antivirus check does not count", state{checks: []posture.Check{risk, func() posture.Check { c := scan; c.Enabled = false; return c }()}, defenderEnabled: true}, fresh, &avDev, staleAt},
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
