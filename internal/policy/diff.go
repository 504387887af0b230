package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"postern/internal/model"
	"postern/internal/posture"
)

// checkFields are a check's settings as the audit log names them, in the
// editor's order, each with its value in words.
func checkFields(c model.PostureCheck, spec posture.Spec) [][2]string {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	list := func(v []string) string { return strings.Join(v, ", ") }
	number := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	builds := make([]string, 0, len(spec.MinOSBuild))
	for _, k := range slices.Sorted(maps.Keys(spec.MinOSBuild)) {
		builds = append(builds, fmt.Sprintf("%s %d", k, spec.MinOSBuild[k]))
	}
	return [][2]string{
		{"name", c.Name}, {"description", c.Description}, {"data source", posture.SourceLabel(c.DataSource)},
		{"mode", modeLabel(c.Mode)}, {"enabled", onOff(c.Enabled)},
		{"when data is unavailable", unavailableLabel(c.WhenUnavailable)},
		{"health status must be Active", onOff(spec.HealthActive)}, {"maximum risk score", spec.MaxRisk},
		{"maximum exposure level", spec.MaxExposure}, {"onboarding status must be Onboarded", onOff(spec.RequireOnboarded)},
		{"antivirus status", list(spec.AVStatuses)}, {"last seen within (hours)", number(spec.LastSeenHours)},
		{"OS platform", list(spec.OSPlatforms)}, {"minimum OS build", list(builds)},
		{"required tags", list(spec.RequiredTags)}, {"forbidden tags", list(spec.ForbiddenTags)},
		{"must be Entra joined", onOff(spec.RequireEntraJoined)}, {"device group", list(spec.DeviceGroups)},
		{"OS", list(spec.ReportOS)}, {"minimum OS version", spec.ReportMinOSVersion},
		{"firewall on", onOff(spec.ReportFirewall)}, {"disk encrypted", onOff(spec.ReportDiskEncrypted)},
		{"minimum client version", spec.ReportMinClientVersion},
	}
}

// CheckDiff words what an edit changed, field by field: "mode: Monitor
// only → Enforce; maximum risk score: Medium → Low". A stored spec that
// does not parse compares as empty.
func CheckDiff(before, after model.PostureCheck) string {
	var bs, as posture.Spec
	_ = json.Unmarshal([]byte(before.Spec), &bs)
	_ = json.Unmarshal([]byte(after.Spec), &as)
	old, cur := checkFields(before, bs), checkFields(after, as)
	var parts []string
	for i := range cur {
		if old[i][1] != cur[i][1] {
			parts = append(parts, cur[i][0]+": "+orNone(old[i][1])+" → "+orNone(cur[i][1]))
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}

// CheckSummary words a new check's settings, leaving out the conditions
// not set: "Microsoft Defender, Enforce, when data is unavailable: Deny;
// maximum risk score: Low".
func CheckSummary(c model.PostureCheck) string {
	var spec posture.Spec
	_ = json.Unmarshal([]byte(c.Spec), &spec)
	fields := checkFields(c, spec)
	out := posture.SourceLabel(c.DataSource) + ", " + modeLabel(c.Mode) + ", when data is unavailable: " +
		unavailableLabel(c.WhenUnavailable)
	var conds []string
	for _, f := range fields[6:] {
		if f[1] != "" && f[1] != "off" {
			conds = append(conds, f[0]+": "+f[1])
		}
	}
	if len(conds) > 0 {
		out += "; " + strings.Join(conds, "; ")
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func modeLabel(m string) string {
	if m == posture.ModeMonitor {
		return "Monitor only"
	}
	return "Enforce"
}

func unavailableLabel(u string) string {
	if u == posture.UnavailableAllow {
		return "Allow"
	}
	return "Deny"
}
