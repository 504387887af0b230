package posture

import (
	"strconv"
	"strings"

	"postern/internal/fleet"
)

// maxLevel caps an ordered Defender enum (risk score, exposure level).
type maxLevel struct {
	name   string // editor label
	label  string // how reasons call the field
	levels []string
	max    int // index into levels
	get    func(*fleet.Device) string
}

// newMaxLevel compiles a "Maximum …" condition; an unknown limit makes a
// misconfigured condition.
func newMaxLevel(name, label string, levels []string, limit string, get func(*fleet.Device) string) Condition {
	i := indexFold(levels, strings.TrimSpace(limit))
	if i < 0 {
		return misconfigured{name, label + " limit " + strconv.Quote(shown(limit)) + " is not one of " + strings.Join(levels, ", ")}
	}
	return maxLevel{name: name, label: label, levels: levels, max: i, get: get}
}

func (l maxLevel) Name() string { return l.name }

func (l maxLevel) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	v := l.get(in.Device)
	if v == "" {
		return unknown(l.label + " not reported, allowed at most " + l.levels[l.max] + dataSuffix(in))
	}
	r := indexFold(l.levels, v)
	switch {
	case r < 0:
		return unknown(l.label + " " + strconv.Quote(shown(v)) + " is not a known level, allowed at most " + l.levels[l.max] + dataSuffix(in))
	case r > l.max:
		return fail(l.label + " " + l.levels[r] + " exceeds the allowed " + l.levels[l.max] + dataSuffix(in))
	}
	return passed
}
