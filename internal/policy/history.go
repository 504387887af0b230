package policy

import (
	"context"
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
	counts := make(map[int64]Counts, len(s.checks))
	var overall Counts
	next := make(map[string]verdict, snap.Active)

	e.mu.Lock()
	prev, baseline := e.verdicts, e.verdicts != nil
	e.mu.Unlock()
	var entries []store.HistoryEntry
	var audits []store.AuditEntry

	for i := range snap.Devices {
		d := &snap.Devices[i]
		if d.Removed {
			continue
		}
		in.Device = d
		dec := posture.Evaluate(s.checks, s.exceptions, in, posture.Match{Device: d, MatchedBy: "defender_machine_id"})
		v := verdict{overall: overallResult(dec), checks: make(map[int64]posture.Result, len(dec.Checks)), device: *d}
		tally(&overall, v.overall)
		for _, r := range dec.Checks {
			c := counts[r.ID]
			tally(&c, r.Result)
			counts[r.ID] = c
			v.checks[r.ID] = r.Result
		}
		next[d.ID] = v
		if !baseline {
			continue
		}
		old, seen := prev[d.ID]
		if !seen {
			continue
		}
		signal := changedSignals(old.device, *d)
		for _, r := range dec.Checks {
			if was, ok := old.checks[r.ID]; ok && was != r.Result {
				entries = append(entries, store.HistoryEntry{DeviceID: d.ID, CheckID: r.ID, CheckName: r.Name, At: now,
					From: string(was), To: string(r.Result), Reasons: r.Reasons, Signal: signal})
			}
		}
		if old.overall != v.overall {
			var reasons []string
			for _, r := range dec.Checks {
				reasons = append(reasons, r.Reasons...)
			}
			entries = append(entries, store.HistoryEntry{DeviceID: d.ID, At: now, From: string(old.overall),
				To: string(v.overall), Reasons: reasons, Signal: signal})
			audits = append(audits, store.AuditEntry{Actor: "postern (posture)", Action: "posture.verdict_changed",
				Target: hostOrID(d), Outcome: store.OutcomeSuccess,
				Detail: string(old.overall) + " → " + string(v.overall) + signalDetail(signal)})
		}
	}
	if err := e.store.AppendHistory(ctx, entries, audits); err != nil {
		return err
	}
	e.mu.Lock()
	e.verdicts = next
	e.mu.Unlock()
	cur := e.st.Load()
	e.st.Store(&state{checks: cur.checks, exceptions: cur.exceptions, defenderEnabled: cur.defenderEnabled,
		counts: counts, overall: overall, computedAt: now})
	return nil
}

// overallResult is the device's verdict: fail if an enforced check does not
// pass for a failure, unknown if it does not pass for lack of data, else
// pass.
func overallResult(d posture.Decision) posture.Result {
	if d.Allowed {
		return posture.Pass
	}
	for _, c := range d.Checks {
		if c.Mode == "enforce" && c.Result == posture.Fail {
			return posture.Fail
		}
	}
	return posture.Unknown
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
