package policy

import (
	"postern/internal/posture"
)

// Example is one device a draft check would not pass, with why.
type Example struct {
	DeviceID string
	Host     string
	Result   posture.Result
	Reasons  []string
}

// Impact is what a draft check would do to the fleet.
type Impact struct {
	Counts
	Devices  int
	Examples []Example // the first few failing (then unknown) devices
}

// Preview evaluates a draft check over every active device in the snapshot,
// as it would run if saved and enabled; it does not touch the database.
func (e *Engine) Preview(check posture.Check, examples int) Impact {
	check.Enabled = true
	compiled := posture.Compile([]posture.Check{check})
	s := e.st.Load()
	snap := e.fleet.Load()
	in := e.input(s, snap, e.now())
	var imp Impact
	var unknown []Example
	for i := range snap.Devices {
		d := &snap.Devices[i]
		if d.Removed {
			continue
		}
		imp.Devices++
		in.Device = d
		dec := posture.Evaluate(compiled, nil, in, posture.Match{Device: d, MatchedBy: posture.MatchedByDefenderID})
		if len(dec.Checks) == 0 {
			continue
		}
		r := dec.Checks[0]
		switch r.Result {
		case posture.Pass:
			imp.Pass++
		case posture.Fail:
			imp.Fail++
			if len(imp.Examples) < examples {
				imp.Examples = append(imp.Examples, Example{DeviceID: d.ID, Host: d.Host, Result: r.Result, Reasons: r.Reasons})
			}
		default:
			imp.Unknown++
			if len(unknown) < examples {
				unknown = append(unknown, Example{DeviceID: d.ID, Host: d.Host, Result: r.Result, Reasons: r.Reasons})
			}
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
