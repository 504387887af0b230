package posture

import (
	"strconv"
	"strings"
)

// minOSVersion requires the reported OS version to be at least a dotted
// number, compared part by part (10.0.9 < 10.0.22631).
type minOSVersion struct {
	min     version
	want    string
	missing string // the reason when no version is reported, built once
}

func newMinOSVersion(s string) Condition {
	s = strings.TrimSpace(s)
	v, ok := parseDotted(s)
	if !ok {
		return misconfigured{"Minimum OS version", "minimum OS version " + strconv.Quote(shown(s)) + " is not a dotted number"}
	}
	return minOSVersion{min: v, want: s, missing: "device report: OS version not reported, required at least " + s}
}

func (minOSVersion) Name() string { return "Minimum OS version" }

func (m minOSVersion) Evaluate(in *Input) Outcome {
	raw := in.Report.OSVersion
	if strings.TrimSpace(raw) == "" {
		return unknown(m.missing)
	}
	v, ok := parseReportedOS(raw)
	switch {
	case !ok:
		return unknown("device report: OS version " + strconv.Quote(shown(raw)) + " is not a dotted number, required at least " + m.want)
	case compareVersions(v, m.min) < 0:
		return fail("device report: OS version " + shown(strings.TrimSpace(raw)) + ", required at least " + m.want)
	}
	return passed
}
