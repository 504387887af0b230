package policy

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"time"

	"postern/internal/fleet"
	"postern/internal/posture"
	"postern/store"
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
	s := e.st.Load()
	snap := e.fleet.Load()
	now := e.now()
	in := e.input(s, snap, now)
	var ids []int64
	for _, c := range s.checks {
		if c.Enabled {
			ids = append(ids, c.ID)
		}
	}
	stride := len(ids) + 1
	next := &verdicts{snap: snap, checks: ids, results: make([]byte, len(snap.Devices)*stride)}
	perCheck := make([]Counts, len(ids))
	var overall Counts

	e.mu.Lock()
	prev := e.last
	e.mu.Unlock()
	var prevCol map[int64]int
	prevStride := 0
	if prev != nil {
		prevStride = len(prev.checks) + 1
		prevCol = make(map[int64]int, len(prev.checks))
		for j, id := range prev.checks {
			prevCol[id] = j + 1
		}
	}
	var entries []store.HistoryEntry
	var audits []store.AuditEntry
	res := make([]posture.Result, 0, len(ids))

	for i := range snap.Devices {
		if i%yieldEvery == yieldEvery-1 {
			// A whole-fleet pass takes a good part of a second: let the
			// enforcement API's requests in rather than hold a CPU for a
			// whole scheduler time slice, and stop early at shutdown.
			if err := ctx.Err(); err != nil {
				return err
			}
			runtime.Gosched()
		}
		d := &snap.Devices[i]
		if d.Removed {
			continue
		}
		in.Device = d
		m := posture.Match{Device: d, MatchedBy: "defender_machine_id"}
		var overallResult posture.Result
		res, overallResult = posture.Results(s.checks, s.exceptions, in, m, res[:0])
		row := next.results[i*stride : (i+1)*stride]
		row[0] = code(overallResult)
		tally(&overall, result(row[0]))
		for j, r := range res {
			tally(&perCheck[j], r)
			row[j+1] = code(r)
		}
		if prev == nil {
			continue
		}
		pi, seen := prev.snap.Index(d.ID)
		if !seen || prev.snap.Devices[pi].Removed {
			continue
		}
		old := prev.results[pi*prevStride : (pi+1)*prevStride]
		if !verdictChanged(old, row, ids, prevCol) {
			continue
		}
		// Rare: the device's verdict moved. Evaluate it again in full for
		// the reasons the history shows.
		dec := posture.Evaluate(s.checks, s.exceptions, in, m)
		signal := changedSignals(prev.snap.Devices[pi], *d)
		for _, r := range dec.Checks {
			j, ok := prevCol[r.ID]
			if !ok || old[j] == 0 || old[j] == code(r.Result) {
				continue
			}
			entries = append(entries, store.HistoryEntry{DeviceID: d.ID, CheckID: r.ID, CheckName: r.Name, At: now,
				From: string(result(old[j])), To: string(r.Result), Reasons: r.Reasons, Signal: signal})
		}
		if old[0] != 0 && old[0] != row[0] {
			var reasons []string
			for _, r := range dec.Checks {
				reasons = append(reasons, r.Reasons...)
			}
			from, to := result(old[0]), result(row[0])
			entries = append(entries, store.HistoryEntry{DeviceID: d.ID, At: now, From: string(from),
				To: string(to), Reasons: reasons, Signal: signal})
			audits = append(audits, store.AuditEntry{Actor: "postern (posture)", Action: "posture.verdict_changed",
				Target: hostOrID(d), Outcome: store.OutcomeSuccess,
				Detail: string(from) + " → " + string(to) + signalDetail(signal)})
		}
	}
	counts := make(map[int64]Counts, len(ids))
	for j, id := range ids {
		counts[id] = perCheck[j]
	}
	if err := e.store.AppendHistory(ctx, entries, audits); err != nil {
		return err
	}
	e.mu.Lock()
	e.last = next
	e.mu.Unlock()
	cur := e.st.Load()
	e.st.Store(&state{checks: cur.checks, exceptions: cur.exceptions, defenderEnabled: cur.defenderEnabled,
		counts: counts, overall: overall, computedAt: now})
	return nil
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

func signalDetail(s string) string {
	if s == "" {
		return ""
	}
	return " (changed: " + s + ")"
}

func hostOrID(d *fleet.Device) string {
	if d.Host != "" {
		return d.Host
	}
	return d.ID
}
