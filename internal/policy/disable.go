package policy

import (
	"postern/internal/posture"
)

// Switches a check can take before Microsoft Defender is disabled, so that
// its devices are not denied while its data is missing.
const (
	// SwitchMonitor turns the check to Monitor only: it reports, never denies.
	SwitchMonitor = "monitor"
	// SwitchAllow sets When data is unavailable to Allow: devices pass the
	// check while it has no data (and later, wherever it has none, until
	// it is set back to Deny).
	SwitchAllow = "allow"
)

// DisabledCheck is an enabled Defender check as Disable would leave it.
type DisabledCheck struct {
	ID              int64
	Name            string
	Mode            string // after the switch, if any
	WhenUnavailable string // after the switch, if any
	Switch          string // "", SwitchMonitor or SwitchAllow
	// Denies is how many devices this check alone would deny once its data
	// is gone (exceptions applied).
	Denies int
}

// DisableImpact is what disabling Microsoft Defender would do to access
// over the active synced devices, with the chosen switches applied: each
// device as the enforcement API would answer for it by its Defender
// machine id once every Defender condition is unknown. Device report
// checks are left out (they are decided per request).
type DisableImpact struct {
	Devices int
	// Checks are the enabled Defender checks, in the engine's order.
	Checks []DisabledCheck
	// Denied and Allowed split Devices by the overall verdict after
	// Disable; NewlyDenied of Denied are allowed today.
	Denied, Allowed, NewlyDenied int
}

// Switched reports whether sw is a switch Disable offers.
func Switched(sw string) bool { return sw == SwitchMonitor || sw == SwitchAllow }

// apply returns c with switch sw made.
func apply(c posture.Check, sw string) posture.Check {
	switch sw {
	case SwitchMonitor:
		c.Mode = posture.ModeMonitor
	case SwitchAllow:
		c.WhenUnavailable = posture.UnavailableAllow
	}
	return c
}

// DisableImpact evaluates the fleet as it would be with Microsoft Defender
// disabled and the checks switched as switches say (check id → switch),
// against today's verdicts. It does not touch the database.
func (e *Engine) DisableImpact(switches map[int64]string) DisableImpact {
	s, snap := e.st.Load(), e.fleet.Load()
	var now, after []posture.Check
	var di DisableImpact
	var cols []int // di.Checks[k] is after[cols[k]]
	for _, c := range s.checks {
		if !c.Enabled || c.PerRequest() {
			continue
		}
		now = append(now, c)
		if c.Source == posture.SourceDefender {
			sw := switches[c.ID]
			if !Switched(sw) {
				sw = ""
			}
			c = apply(c, sw)
			cols = append(cols, len(after))
			di.Checks = append(di.Checks, DisabledCheck{ID: c.ID, Name: c.Name, Mode: c.Mode, WhenUnavailable: c.WhenUnavailable, Switch: sw})
		}
		after = append(after, c)
	}
	after = posture.Compile(after)
	inNow := e.input(s, snap, e.now())
	inAfter := inNow
	inAfter.SourceDisabled = true
	var resNow, resAfter []posture.Result
	for i := range snap.Devices {
		d := &snap.Devices[i]
		if d.Removed {
			continue
		}
		di.Devices++
		m := posture.Match{Device: d, MatchedBy: posture.MatchedByDefenderID}
		inNow.Device, inAfter.Device = d, d
		var today, then posture.Result
		resNow, today = posture.Results(now, s.exceptions, inNow, m, resNow[:0])
		resAfter, then = posture.Results(after, s.exceptions, inAfter, m, resAfter[:0])
		for k, j := range cols {
			if after[j].Mode != posture.ModeMonitor && resAfter[j] != posture.Pass {
				di.Checks[k].Denies++
			}
		}
		if then == posture.Pass {
			di.Allowed++
			continue
		}
		di.Denied++
		if today == posture.Pass {
			di.NewlyDenied++
		}
	}
	return di
}
