package posture

import (
	"strconv"
	"strings"
)

// minClientVersion requires the reported client version to be at least a
// semver-ish version; a pre-release sorts before its release.
type minClientVersion struct {
	min     version
	want    string
	missing string // the reason when no version is reported, built once
}

func newMinClientVersion(s string) Condition {
	s = strings.TrimSpace(s)
	v, ok := parseSemver(s)
	if !ok {
		return misconfigured{"Minimum client version", "minimum client version " + strconv.Quote(shown(s)) + " is not a version"}
	}
	return minClientVersion{min: v, want: s, missing: "device report: client version not reported, required at least " + s}
}

func (minClientVersion) Name() string { return "Minimum client version" }

func (m minClientVersion) Evaluate(in *Input) Outcome {
	raw := in.Report.ClientVersion
	if strings.TrimSpace(raw) == "" {
		return unknown(m.missing)
	}
	v, ok := parseSemver(raw)
	switch {
	case !ok:
		return unknown("device report: client version " + strconv.Quote(shown(raw)) + " is not a version, required at least " + m.want)
	case compareVersions(v, m.min) < 0:
		return fail("device report: client version " + shown(strings.TrimSpace(raw)) + ", required at least " + m.want)
	}
	return passed
}
