package web

import (
	"postern/internal/model"
	"postern/internal/policy"
	"postern/internal/posture"
	"postern/views"
)

// The Verdict filter's values as the policy engine's overall verdicts:
// allowed is Pass, denied a failing Enforce check, unknown an Enforce
// check without data (denied too, for want of data).
var verdictResults = map[string]posture.Result{
	views.VerdictAllowed: posture.Pass,
	views.VerdictDenied:  posture.Fail,
	views.VerdictUnknown: posture.Unknown,
}

// verdictSet is the store filter of the devices whose verdict in the
// engine's last pass is v ("" filters nothing). The set comes from memory,
// the pass the dashboard counted, so the list holds exactly the devices
// its tile counts; the store only intersects it with the other filters.
func verdictSet(dv policy.DeviceVerdicts, v string) model.DeviceSet {
	r, ok := verdictResults[v]
	if !ok {
		return nil
	}
	return dv.With(r)
}

// verdictOf is device id's verdict for the list ("pass", "fail",
// "unknown"), or "" when the verdicts are not current or it has none.
func verdictOf(dv policy.DeviceVerdicts, id string) string {
	if !dv.Current {
		return ""
	}
	r, ok := dv.Of(id)
	if !ok {
		return ""
	}
	return string(r)
}

// verdictCSV is a device's verdict in the export, in the words of access.
func verdictCSV(dv policy.DeviceVerdicts, id string) string {
	if !dv.Current {
		return "recalculating"
	}
	switch verdictOf(dv, id) {
	case string(posture.Pass):
		return "Allowed"
	case string(posture.Fail):
		return "Denied"
	case string(posture.Unknown):
		return "Unknown"
	}
	return ""
}
