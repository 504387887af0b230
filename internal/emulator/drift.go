package emulator

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"
)

// Drift advances the fleet by steps. Each step changes a signal (risk,
// exposure, health, antivirus status) and refreshes lastSeen for about 3% of
// the machines, sometimes adds a new machine and sometimes reinstalls one (a
// new record with the same name; the old one goes Inactive and is flagged as
// a potential duplicate). The same seed, clock and call sequence give the same
// fleet, so tests can assert on the outcome.
func (e *Emulator) Drift(steps int) {
	e.editMu.Lock()
	defer e.editMu.Unlock()
	now := e.now()
	// A shallow copy is enough: drift replaces pointers and slices and never
	// writes through the ones it shares with the previous snapshot.
	ms := slices.Clone(e.snapshot())
	for range steps {
		ms = e.driftStep(ms, now)
	}
	ms = sortByID(ms)
	e.mu.Lock()
	e.fleet = ms
	e.mu.Unlock()
}

func (e *Emulator) driftStep(ms []Machine, now time.Time) []Machine {
	r := e.drift
	retire(ms, now)
	if len(ms) > 0 {
		for range max(1, len(ms)*3/100) {
			m := &ms[r.IntN(len(ms))]
			if m.OnboardingStatus != "Onboarded" || m.IsPotentialDuplication {
				continue // nothing reports for these
			}
			switch r.IntN(4) {
			case 0:
				m.RiskScore = orNull(pick(r, riskMix))
			case 1:
				m.ExposureLevel = orNull(pick(r, exposureMix))
			case 2:
				m.HealthStatus = pick(r, healthMix)
			default:
				m.DefenderAVStatus = orNull(pick(r, avMix))
			}
			if m.HealthStatus != "Inactive" {
				m.LastSeen = later(m.LastSeen, stamp(r, now.Add(-randDur(r, 0, time.Hour))))
			}
		}
	}
	if r.IntN(100) < 15 {
		m := genMachine(r, e.nextIndex, now)
		e.nextIndex++
		m.FirstSeen = stamp(r, now.Add(-randDur(r, 0, time.Hour)))
		m.LastSeen = later(m.FirstSeen, m.LastSeen)
		ms = append(ms, m)
	}
	if r.IntN(100) < 5 && len(ms) > 0 {
		ms = reinstall(r, ms, r.IntN(len(ms)), now)
	}
	return ms
}

// reinstall gives machine i a successor record: the device came back with a
// new id, and the old record stops reporting.
func reinstall(r *rand.Rand, ms []Machine, i int, now time.Time) []Machine {
	old := &ms[i]
	if old.IsPotentialDuplication || old.OnboardingStatus != "Onboarded" {
		return ms
	}
	fresh := old.clone()
	fresh.ID = hexID(r)
	fresh.FirstSeen, fresh.LastSeen = now, now
	fresh.HealthStatus = "Active"
	// The old record stops reporting but stays as it was (often Active)
	// until 7 days without signals make it Inactive (retire).
	old.replacedAt = now
	old.IsPotentialDuplication = true
	if r.IntN(2) == 0 {
		old.MergedIntoMachineID = ptr(fresh.ID)
	}
	return append(ms, fresh)
}

// inactiveAfter is how long Defender keeps a silent record's health
// before it turns Inactive (docs/defender-api.md#duplicates).
const inactiveAfter = 7 * 24 * time.Hour

// retire turns Inactive the records a reinstall replaced 7 or more
// (simulated) days ago.
func retire(ms []Machine, now time.Time) {
	for i := range ms {
		if m := &ms[i]; !m.replacedAt.IsZero() && now.Sub(m.replacedAt) >= inactiveAfter {
			m.HealthStatus, m.replacedAt = "Inactive", time.Time{}
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// RunDrift calls Drift(1) every interval until ctx ends, for demos whose
// signals should change while someone watches.
func (e *Emulator) RunDrift(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Drift(1)
		}
	}
}
