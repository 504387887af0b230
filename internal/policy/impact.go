package policy

import "postern/internal/posture"

// Example is one device a draft check would not pass, with why.
type Example struct {
	DeviceID string
	Host     string
	Result   posture.Result
	Reasons  []string
}

// Impact is what a draft check would do to access, over the active synced
// devices, as the enforcement API would answer for each of them by its
// Defender machine id. Device report checks are left out of every figure:
// they judge what the gateway sends with each request, which synced
// devices do not carry.
type Impact struct {
	// Counts are the draft's verdicts, as the enforcement API counts them
	// (When data is unavailable and exceptions applied).
	Counts
	// Devices are the active synced devices the figures are over;
	// Discovered of them were found by Defender's device discovery and
	// are not onboarded (the snapshot's own count).
	Devices, Discovered int
	// Allowed and Denied split Devices by this check alone, as if it were
	// enabled: Denied is 0 in Monitor only. NoData of them have no data
	// for a condition; When data is unavailable put them in Denied (Deny)
	// or Allowed (Allow). Excepted are in Allowed only by an exception.
	Allowed, Denied, NoData, Excepted int
	// Failing would not pass the check: the devices Monitor only reports.
	Failing int
	Monitor bool
	// NewlyDenied are allowed today and denied once the draft is saved (as
	// saved: a disabled draft denies nobody); NewlyAllowed the reverse.
	// The other checks and the exceptions count as they stand.
	NewlyDenied, NewlyAllowed int
	// Examples are the first devices the check would not pass; Denials
	// the first of NewlyDenied.
	Examples, Denials []Example
}

// Preview evaluates a draft check over every active device in the
// snapshot; it does not touch the database. A draft with the ID of a
// stored check replaces it; ID 0 is a new check.
func (e *Engine) Preview(check posture.Check, examples int) Impact {
	s, snap := e.st.Load(), e.fleet.Load()
	in := e.input(s, snap, e.now())
	saved := check.Enabled
	check.Enabled = true
	draft := posture.Compile([]posture.Check{check})[0]
	others, old := othersAndOld(s.checks, check.ID)
	imp := Impact{Monitor: check.Mode == posture.ModeMonitor, Discovered: snap.Discovered}
	var res []posture.Result
	var unknown []Example
	for i := range snap.Devices {
		d := &snap.Devices[i]
		if d.Removed {
			continue
		}
		imp.Devices++
		in.Device = d
		m := posture.Match{Device: d, MatchedBy: posture.MatchedByDefenderID}
		v := posture.Judge(&draft, s.exceptions, in, m)
		denies := imp.tally(&draft, v)
		var othersDeny bool
		if len(others) > 0 {
			var overall posture.Result
			res, overall = posture.Results(others, s.exceptions, in, m, res[:0])
			othersDeny = overall != posture.Pass
		}
		today := !othersDeny && (old == nil || !old.Denies(posture.Judge(old, s.exceptions, in, m)))
		after := !othersDeny && !(saved && denies)
		switch {
		case today && !after:
			imp.NewlyDenied++
			if len(imp.Denials) < examples {
				imp.Denials = append(imp.Denials, example(&draft, s.exceptions, in, m, v))
			}
		case !today && after:
			imp.NewlyAllowed++
		}
		switch {
		case v.Result == posture.Pass:
		case v.Result == posture.Fail && len(imp.Examples) < examples:
			imp.Examples = append(imp.Examples, example(&draft, s.exceptions, in, m, v))
		case v.Result != posture.Fail && len(unknown) < examples:
			unknown = append(unknown, example(&draft, s.exceptions, in, m, v))
		}
	}
	for _, u := range unknown {
		if len(imp.Examples) >= examples {
			break
		}
		imp.Examples = append(imp.Examples, u)
	}
	return imp
}

// tally counts one device's verdict v of the draft; it reports whether the
// draft, enabled, would deny the device.
func (imp *Impact) tally(draft *posture.Check, v posture.Verdict) bool {
	tally(&imp.Counts, v.Result)
	denies := draft.Denies(v)
	switch {
	case denies:
		imp.Denied++
	default:
		imp.Allowed++
	}
	if v.Result != posture.Pass {
		imp.Failing++
	}
	if v.Excepted {
		imp.Excepted++
	} else if v.Raw == posture.Unknown {
		imp.NoData++
	}
	return denies
}

// othersAndOld splits the checks for a preview of check id: the enabled
// Enforce checks other than it (Device report checks left out), and its
// stored version if enabled (nil otherwise, or for a new check).
func othersAndOld(checks []posture.Check, id int64) (others []posture.Check, old *posture.Check) {
	for i := range checks {
		c := &checks[i]
		switch {
		case id != 0 && c.ID == id:
			if c.Enabled {
				old = c
			}
		case c.Enabled && c.Mode != posture.ModeMonitor && !c.PerRequest():
			others = append(others, *c)
		}
	}
	return others, old
}

// example words why the draft gives device d verdict v; it runs the full
// evaluation, so only for the few devices shown.
func example(draft *posture.Check, exc []posture.Exception, in posture.Input, m posture.Match, v posture.Verdict) Example {
	dec := posture.Evaluate([]posture.Check{*draft}, exc, in, m)
	ex := Example{DeviceID: m.Device.ID, Host: m.Device.Host, Result: v.Result}
	if len(dec.Checks) > 0 {
		ex.Reasons = dec.Checks[0].Reasons
	}
	return ex
}
