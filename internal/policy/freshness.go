package policy

import (
	"time"

	"postern/internal/fleet"
	"postern/internal/posture"
)

// Phase is how the engine treats the Defender data at one instant.
type Phase int

// Phases of the Defender data, in the order they follow one another during
// an outage.
const (
	// Fresh: the last successful sync is at most 3 sync intervals old.
	Fresh Phase = iota
	// Kept: the data is stale but the integration's outage grace keeps it
	// in use; every reason says so.
	Kept
	// Unavailable: stale past the grace, or never synced: every Defender
	// condition is unknown and each check's "When data is unavailable"
	// decides.
	Unavailable
)

// staleAfter is how many sync intervals without a successful sync make
// the data stale (docs/design.md#posture-checks).
const staleAfter = 3

// Freshness is the state of the Defender data at one instant, with the
// moments it moves on. Every caller that decides or counts with the data
// derives it from the same rule (freshnessAt), so that the console's counts
// and the enforcement API never disagree about staleness.
type Freshness struct {
	Phase Phase
	// SyncedAt is the last successful sync (zero: never).
	SyncedAt time.Time
	// StaleAt is when the data becomes stale: SyncedAt + 3 intervals.
	StaleAt time.Time
	// KeptUntil is when the outage grace ends: StaleAt + the grace. Equal
	// to StaleAt when the grace is 0.
	KeptUntil time.Time
	// Grace is the integration's outage grace.
	Grace time.Duration
	// AVUnknown is why the snapshot holds no antivirus health, if so.
	AVUnknown string
}

// Stale reports whether the last successful sync is older than 3 intervals
// (or there was none), whether or not the grace keeps the data in use.
func (f Freshness) Stale() bool { return f.Phase != Fresh }

// next is the first moment after now at which the phase changes; zero
// when it never does on its own.
func (f Freshness) next(now time.Time) time.Time {
	switch {
	case f.SyncedAt.IsZero():
		return time.Time{}
	case now.Before(f.StaleAt):
		return f.StaleAt
	case now.Before(f.KeptUntil):
		return f.KeptUntil
	}
	return time.Time{}
}

// freshnessAt applies the staleness rule to snap at now. interval 0 turns
// staleness off (only a never-synced snapshot is unavailable then).
func freshnessAt(snap *fleet.Snapshot, interval, grace time.Duration, now time.Time) Freshness {
	f := Freshness{Grace: grace}
	if snap == nil || snap.SyncedAt.IsZero() {
		f.Phase = Unavailable
		return f
	}
	f.SyncedAt = snap.SyncedAt
	f.AVUnknown = snap.AVUnknown
	if interval <= 0 {
		return f
	}
	f.StaleAt = snap.SyncedAt.Add(staleAfter * interval)
	f.KeptUntil = f.StaleAt.Add(grace)
	switch {
	case !now.After(f.StaleAt):
		f.Phase = Fresh
	case now.Before(f.KeptUntil):
		f.Phase = Kept
	default:
		f.Phase = Unavailable
	}
	return f
}

// inputFor is the evaluation context of the freshness f: the Input every
// condition of every check reads.
func inputFor(f Freshness, sourceDisabled bool, now time.Time) posture.Input {
	in := posture.Input{Now: now, SourceDisabled: sourceDisabled}
	if !f.SyncedAt.IsZero() {
		in.DataAge = f.SyncedAt.UTC().Format(time.RFC3339)
	}
	in.Stale = f.Phase == Unavailable
	in.AVUnknown = f.AVUnknown
	in.Kept = f.Phase == Kept
	return in
}

// Freshness is the state of the Defender data now, by the rule Evaluate
// uses.
func (e *Engine) Freshness() Freshness {
	return freshnessAt(e.fleet.Load(), e.interval, e.st.Load().grace, e.now())
}
