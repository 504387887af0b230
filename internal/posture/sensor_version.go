package posture

import (
	"strconv"
	"strings"
)

// minSensorVersion requires Defender's sensor (agentVersion, e.g.
// 10.8760.26100.3037) to be at least a dotted version.
type minSensorVersion struct {
	min  version
	want string
}

func newMinSensorVersion(s string) Condition {
	s = strings.TrimSpace(s)
	v, ok := parseDotted(s)
	if !ok {
		return misconfigured{"Sensor version at least", "sensor version " + strconv.Quote(shown(s)) + " is not a dotted number"}
	}
	return minSensorVersion{min: v, want: s}
}

func (minSensorVersion) Name() string { return "Sensor version at least" }

func (m minSensorVersion) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	raw := in.Device.AgentVersion
	if raw == "" {
		return unknown("sensor version not reported, required at least " + m.want + dataSuffix(in))
	}
	v, ok := parseReportedOS(raw)
	switch {
	case !ok:
		return unknown("sensor version " + strconv.Quote(shown(raw)) + " is not a version, required at least " + m.want + dataSuffix(in))
	case compareVersions(v, m.min) < 0:
		return fail("sensor version " + shown(raw) + ", required at least " + m.want + dataSuffix(in))
	}
	return passed
}
