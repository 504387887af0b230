package policy

import (
	"context"
	"runtime"
	"time"

	"postern/internal/fleet"
	"postern/internal/posture"
)

// counted is what one whole-fleet pass counted, and the inputs it counted
// with: the counts describe Evaluate's answers only while the engine still
// has those inputs.
type counted struct {
	gen      uint64          // the state generation counted
	snap     *fleet.Snapshot // the snapshot counted
	at       time.Time       // the clock the pass evaluated with
	until    time.Time       // the next moment a verdict may move on its own; zero: none known
	fresh    Freshness
	perCheck map[int64]Counts
	overall  Counts
	outage   int
	verdicts *verdicts // every device's, as counted
}

// Tally is the counts as the console shows them.
type Tally struct {
	PerCheck map[int64]Counts // per enabled check id
	Overall  Counts           // Pass = allowed, Fail and Unknown = denied
	At       time.Time        // when they were computed
	// Current reports that the counts are exactly what Evaluate answers
	// now for every synced device: the same snapshot, the same checks and
	// exceptions, the same freshness phase. While it is false the console
	// says "recalculating…" instead of the figures; a new pass is on its
	// way.
	Current bool
	// Freshness is the state of the Defender data the counts were
	// computed with.
	Freshness Freshness
	// Outage counts the devices the outage decides for, when the data is
	// stale: in the Unavailable phase, devices denied now that the last
	// synced data would allow; in the Kept phase, devices allowed now that
	// will be denied when the grace ends. 0 while the data is fresh.
	Outage int
	// RunID is the sync run of the snapshot counted (0: none yet).
	RunID int64
}

// Tally returns the last counts and whether they are current.
func (e *Engine) Tally() Tally {
	t := e.counts.Load()
	if t == nil {
		return Tally{}
	}
	out := Tally{PerCheck: t.perCheck, Overall: t.overall, At: t.at, Freshness: t.fresh, Outage: t.outage, RunID: t.snap.RunID}
	out.Current = e.current(t)
	return out
}

// current reports whether t is exactly what Evaluate answers now; past the
// moment a verdict may move on its own it asks for a new pass.
func (e *Engine) current(t *counted) bool {
	expired := !t.until.IsZero() && !e.now().Before(t.until)
	if expired {
		// The timer runs on the real clock; a moved clock (or a late
		// timer) asks here.
		e.Recompute()
	}
	return t.gen == e.st.Load().gen && t.snap == e.fleet.Load() && !expired
}

// Generation is the number of the engine's current checks, exceptions and
// integration state: it grows with every Reload.
func (e *Engine) Generation() uint64 { return e.st.Load().gen }

// SetOutageGrace makes Reload read the integration's outage grace with fn;
// without it the engine uses the default grace.
func (e *Engine) SetOutageGrace(fn func(context.Context) (time.Duration, error)) { e.grace = fn }

// asAPI is what the enforcement API decides with when asked about d by its
// Defender id: d itself, or the record Defender merged it into. The counts,
// the history and the device page all evaluate this, never d blindly.
func asAPI(snap *fleet.Snapshot, d *fleet.Device) posture.Match {
	return posture.MatchDevice(snap, posture.Request{DefenderMachineID: d.ID})
}

// publish makes the pass p's counts the console's, computed with st and
// fresh, and arms the recompute at the next moment a verdict may move on
// its own (the data going stale, the grace ending, an exception expiring).
func (e *Engine) publish(ctx context.Context, st *state, fresh Freshness, p *pass) error {
	t := &counted{gen: st.gen, snap: p.snap, at: p.now, fresh: fresh, overall: p.overall, verdicts: p.next,
		perCheck: make(map[int64]Counts, len(p.ids))}
	for j, id := range p.ids {
		t.perCheck[id] = p.perCheck[j]
	}
	n, err := e.countOutage(ctx, st, fresh, p)
	if err != nil {
		return err
	}
	t.outage = n
	t.until = fresh.next(p.now)
	for _, x := range st.exceptions {
		if x.ExpiresAt.After(p.now) && (t.until.IsZero() || x.ExpiresAt.Before(t.until)) {
			t.until = x.ExpiresAt
		}
	}
	e.counts.Store(t)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wake != nil {
		e.wake.Stop()
		e.wake = nil
	}
	if !t.until.IsZero() {
		e.wake = time.AfterFunc(t.until.Sub(p.now), e.Recompute)
	}
	return nil
}

// countOutage evaluates every active device a second time as the other
// side of the grace would (the data in use while it is unavailable, or
// unavailable while it is kept) and counts those whose access differs.
func (e *Engine) countOutage(ctx context.Context, st *state, fresh Freshness, p *pass) (int, error) {
	if !st.defenderEnabled || fresh.SyncedAt.IsZero() || fresh.Phase == Fresh {
		return 0, nil
	}
	other := fresh
	other.Phase = Kept
	if fresh.Phase == Kept {
		other.Phase = Unavailable
	}
	in := inputFor(other, false, p.now)
	stride := len(p.ids) + 1
	res := make([]posture.Result, 0, len(p.ids))
	n := 0
	for i := range p.snap.Devices {
		if i%yieldEvery == yieldEvery-1 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			runtime.Gosched()
		}
		d := &p.snap.Devices[i]
		if d.Removed {
			continue
		}
		m := asAPI(p.snap, d)
		in.Device = m.Device
		var alt posture.Result
		res, alt = posture.Results(st.checks, st.exceptions, in, m, res[:0])
		allowedNow, allowedThen := p.next.results[i*stride] == codePass, alt == posture.Pass
		if fresh.Phase == Kept && allowedNow && !allowedThen || fresh.Phase == Unavailable && !allowedNow && allowedThen {
			n++
		}
	}
	return n, nil
}
