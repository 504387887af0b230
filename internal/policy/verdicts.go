package policy

import "postern/internal/posture"

// DeviceVerdicts are the overall verdicts of the last whole-fleet pass, the
// one Tally counted: for each synced device, what the enforcement API
// answers for its id (Pass: allowed; Fail: denied by a failing Enforce
// check; Unknown: denied for want of data). The console's Devices list
// shows and filters by them without evaluating anything per request.
type DeviceVerdicts struct {
	v *verdicts
	// Current reports that the verdicts are what the API answers now
	// (Tally's Current); while it is false the console says
	// "recalculating…" instead of showing them.
	Current bool
}

// DeviceVerdicts returns the verdicts of the last pass; without a pass yet
// they are empty and not current.
func (e *Engine) DeviceVerdicts() DeviceVerdicts {
	t := e.counts.Load()
	if t == nil || t.verdicts == nil {
		return DeviceVerdicts{}
	}
	return DeviceVerdicts{v: t.verdicts, Current: e.current(t)}
}

// Of returns the verdict of the device with Defender id id; ok is false for
// a device the pass did not evaluate (removed, or unknown to it).
func (dv DeviceVerdicts) Of(id string) (r posture.Result, ok bool) {
	if dv.v == nil {
		return "", false
	}
	i, found := dv.v.snap.Index(id)
	if !found || dv.v.snap.Devices[i].Removed {
		return "", false
	}
	c := dv.v.results[i*(len(dv.v.checks)+1)]
	if c == 0 {
		return "", false
	}
	return result(c), true
}

// With is the set of the devices whose verdict is r, for the store's
// Within filter: membership is a lookup in the pass's verdicts.
func (dv DeviceVerdicts) With(r posture.Result) VerdictSet { return VerdictSet{dv: dv, r: r} }

// VerdictSet is the devices with one verdict in a pass (model.DeviceSet).
type VerdictSet struct {
	dv DeviceVerdicts
	r  posture.Result
}

// Has reports whether device id has the set's verdict.
func (s VerdictSet) Has(id string) bool {
	got, ok := s.dv.Of(id)
	return ok && got == s.r
}

// Len is how many devices have the set's verdict.
func (s VerdictSet) Len() int {
	v := s.dv.v
	if v == nil {
		return 0
	}
	want, stride, n := code(s.r), len(v.checks)+1, 0
	for i := range v.snap.Devices {
		if !v.snap.Devices[i].Removed && v.results[i*stride] == want {
			n++
		}
	}
	return n
}
