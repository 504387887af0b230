package policy

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"time"

	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
)

// refreshEvery recomputes counts even without changes, so that data going
// stale and exceptions expiring show up.
const refreshEvery = 5 * time.Minute

// Run recomputes verdicts whenever asked (reload, new snapshot) and every
// few minutes, recording changes as posture history, until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.recompute:
			e.forget()
		case <-tick.C:
			// Expired exceptions drop out at the next reload.
			if err := e.Reload(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("policy: reload", "err", err)
			}
			continue
		}
		if err := e.refresh(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("policy: recompute verdicts", "err", err)
		}
	}
}

// refresh evaluates every active device against every check, publishes the
// counts and records each verdict that changed since the last refresh. The
// first refresh after start only sets the baseline.
func (e *Engine) refresh(ctx context.Context) error {
	rctx, records := e.recorder(ctx)
	if !records {
		return e.follow(ctx)
	}
	e.mu.Lock()
	restored := e.restored
	e.restored = true
	e.mu.Unlock()
	if !restored {
		if err := e.restore(rctx); err != nil {
			e.mu.Lock()
			e.restored = false
			e.mu.Unlock()
			return err
		}
	}
	e.mu.Lock()
	prev, named, replicated := e.last, e.pending, e.replicated
	e.pending = nil
	st := e.st.Load()
	e.mu.Unlock()
	if replicated && restored {
		var err error
		if named, err = e.pendingElsewhere(rctx, named); err != nil {
			e.mu.Lock()
			e.pending = append(named, e.pending...)
			e.mu.Unlock()
			return err
		}
	}
	snap, now := e.fleet.Load(), e.now()
	fresh := freshnessAt(snap, e.interval, st.grace, now)
	p := newPass(st, snap, inputFor(fresh, !st.defenderEnabled, now), prev, now, named)
	if err := p.run(ctx); err != nil {
		return err
	}
	// The counts go out first: the history write may take a while.
	if err := e.publish(ctx, st, fresh, p); err != nil {
		return err
	}
	if err := e.recordChanges(rctx, p.causes, p, named); err != nil {
		e.mu.Lock()
		e.pending = append(named, e.pending...) // filed by the next pass
		e.mu.Unlock()
		return err
	}
	e.mu.Lock()
	e.last = p.next
	e.mu.Unlock()
	return nil
}

// follow is a refresh on a replica that does not lead: the verdicts and
// counts it answers with, nothing recorded. The causes it was told of are
// kept in the database for the leader to file.
func (e *Engine) follow(ctx context.Context) error {
	e.mu.Lock()
	e.pending = nil
	st := e.st.Load()
	e.mu.Unlock()
	snap, now := e.fleet.Load(), e.now()
	fresh := freshnessAt(snap, e.interval, st.grace, now)
	p := newPass(st, snap, inputFor(fresh, !st.defenderEnabled, now), nil, now, nil)
	if err := p.run(ctx); err != nil {
		return err
	}
	return e.publish(ctx, st, fresh, p)
}

// run evaluates every device of the pass.
func (p *pass) run(ctx context.Context) error {
	for i := range p.snap.Devices {
		if i%yieldEvery == yieldEvery-1 {
			// A whole-fleet pass takes a good part of a second: let the
			// enforcement API's requests in rather than hold a CPU for a
			// whole scheduler time slice, and stop early at shutdown.
			if err := ctx.Err(); err != nil {
				return err
			}
			runtime.Gosched()
		}
		p.device(i)
	}
	return nil
}

// pass is one whole-fleet refresh in progress: the verdicts so far, their
// counts, and the history of the verdicts that moved since prev.
type pass struct {
	s      *state
	snap   *fleet.Snapshot
	now    time.Time
	in     posture.Input
	checks []posture.Check // the enabled checks counted over synced devices
	ids    []int64         // their ids, in the order of each verdicts row
	next   *verdicts
	res    []posture.Result // reused for every device

	perCheck []Counts
	overall  Counts

	prev       *verdicts     // the last refresh's, nil at the first
	prevCol    map[int64]int // check id → its column in prev's rows
	prevStride int

	causes *attribution // the changes since prev, by cause
}

func newPass(s *state, snap *fleet.Snapshot, in posture.Input, prev *verdicts, now time.Time, named []pending) *pass {
	p := &pass{s: s, snap: snap, now: now, in: in, prev: prev}
	var prevSnap *fleet.Snapshot
	staleBefore := false
	if prev != nil {
		prevSnap, staleBefore = prev.snap, prev.stale
	}
	p.causes = newAttribution(named, prevSnap, snap, in.Stale, staleBefore)
	if prev != nil && prev.restored {
		p.causes.restored, p.causes.since = true, prevSnap.SyncedAt
	}
	for _, c := range s.checks {
		// A Device report check is decided per request, from what the
		// gateway sends: synced devices carry no report, so counting it
		// would make every one of them look unknown.
		if c.Enabled && !c.PerRequest() {
			p.checks = append(p.checks, c)
			p.ids = append(p.ids, c.ID)
		}
	}
	p.next = &verdicts{snap: snap, checks: p.ids, results: make([]byte, len(snap.Devices)*(len(p.ids)+1)), stale: in.Stale}
	p.perCheck = make([]Counts, len(p.ids))
	p.res = make([]posture.Result, 0, len(p.ids))
	if prev != nil {
		p.prevStride = len(prev.checks) + 1
		p.prevCol = make(map[int64]int, len(prev.checks))
		for j, id := range prev.checks {
			p.prevCol[id] = j + 1
		}
	}
	return p
}

// device evaluates device i, counts its verdicts and, when they moved since
// the last refresh, records the change.
func (p *pass) device(i int) {
	d := &p.snap.Devices[i]
	if d.Removed {
		return
	}
	m := asAPI(p.snap, d)
	p.in.Device = m.Device
	var overall posture.Result
	p.res, overall = posture.Results(p.checks, p.s.exceptions, p.in, m, p.res[:0])
	stride := len(p.ids) + 1
	row := p.next.results[i*stride : (i+1)*stride]
	row[0] = code(overall)
	tally(&p.overall, result(row[0]))
	for j, r := range p.res {
		tally(&p.perCheck[j], r)
		row[j+1] = code(r)
	}
	if p.prev == nil {
		return
	}
	pi, seen := p.prev.snap.Index(d.ID)
	if !seen || p.prev.snap.Devices[pi].Removed {
		return
	}
	old := p.prev.results[pi*p.prevStride : (pi+1)*p.prevStride]
	if verdictChanged(old, row, p.ids, p.prevCol) {
		p.record(d, m, &p.prev.snap.Devices[pi], old, row)
	}
}

// record adds the history of a device whose verdict moved, from old to
// row, under its cause. This is rare, so the device is evaluated again in
// full for the reasons the history shows.
func (p *pass) record(d *fleet.Device, m posture.Match, was *fleet.Device, old, row []byte) {
	dec := posture.Evaluate(p.checks, p.s.exceptions, p.in, m)
	signal := ""
	if !p.prev.restored { // recorded verdicts carry no signals to compare
		signal = changedSignals(*was, *d)
	}
	var entries []model.HistoryEntry
	var checks []int64
	for _, r := range dec.Checks {
		j, ok := p.prevCol[r.ID]
		if !ok || old[j] == 0 || old[j] == code(r.Result) {
			continue
		}
		checks = append(checks, r.ID)
		entries = append(entries, model.HistoryEntry{DeviceID: d.ID, CheckID: r.ID, CheckName: r.Name, At: p.now,
			From: string(result(old[j])), To: string(r.Result), Reasons: r.Reasons, Signal: signal})
	}
	if old[0] != 0 && old[0] != row[0] {
		var reasons []string
		for _, r := range dec.Checks {
			reasons = append(reasons, r.Reasons...)
		}
		entries = append(entries, model.HistoryEntry{DeviceID: d.ID, At: p.now, From: string(result(old[0])),
			To: string(result(row[0])), Reasons: reasons, Signal: signal})
	}
	if len(entries) > 0 {
		// When no check that had a result moved, a check new since the
		// last pass that the device does not pass is what moved it.
		if len(checks) == 0 {
			for _, r := range dec.Checks {
				if _, ok := p.prevCol[r.ID]; !ok && r.Result != posture.Pass {
					checks = append(checks, r.ID)
				}
			}
		}
		p.causes.add(p.causes.causeOf(d, signal, checks), entries, signal)
	}
}

// yieldEvery is how many devices a whole-fleet pass evaluates between two
// yields of its CPU: about a millisecond of work.
const yieldEvery = 256

// verdictChanged reports whether a device's overall verdict or one of its
// checks' results differs from the previous refresh's row (a check new
// since then does not count: it has no previous result).
func verdictChanged(old, row []byte, ids []int64, prevCol map[int64]int) bool {
	if old[0] != 0 && old[0] != row[0] {
		return true
	}
	for j, id := range ids {
		if k, ok := prevCol[id]; ok && old[k] != 0 && old[k] != row[j+1] {
			return true
		}
	}
	return false
}

func tally(c *Counts, r posture.Result) {
	switch r {
	case posture.Pass:
		c.Pass++
	case posture.Fail:
		c.Fail++
	default:
		c.Unknown++
	}
}

// changedSignals names the posture signals that differ between two copies
// of a device; "" when none did (a check or an exception changed instead).
func changedSignals(a, b fleet.Device) string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("health status", !strings.EqualFold(a.HealthStatus, b.HealthStatus))
	add("risk score", !strings.EqualFold(a.RiskScore, b.RiskScore))
	add("exposure level", !strings.EqualFold(a.ExposureLevel, b.ExposureLevel))
	add("onboarding status", !strings.EqualFold(a.OnboardingStatus, b.OnboardingStatus))
	add("antivirus status", !strings.EqualFold(a.AVStatus, b.AVStatus))
	add("last seen", !a.LastSeen.Equal(b.LastSeen))
	add("OS platform", a.OSPlatform != b.OSPlatform)
	add("OS build", a.OSBuild != b.OSBuild)
	add("tags", !slices.Equal(a.Tags, b.Tags))
	add("Entra join", a.IsAADJoined != b.IsAADJoined)
	return strings.Join(out, ", ")
}
