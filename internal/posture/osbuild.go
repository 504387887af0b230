package posture

import (
	"slices"
	"strconv"
	"strings"
)

// minOSBuild requires a minimum osBuild per OS platform. A platform the
// check does not list is not constrained: restricting platforms is the
// job of the OS platform condition.
type minOSBuild struct {
	platforms []string // sorted, for deterministic reasons
	builds    []int64
	wants     []string // rendered builds
}

func newMinOSBuild(m map[string]int64) Condition {
	c := minOSBuild{}
	for p := range m {
		if t := strings.TrimSpace(p); t != "" && indexFold(c.platforms, t) < 0 {
			c.platforms = append(c.platforms, t)
		}
	}
	slices.Sort(c.platforms)
	for _, p := range c.platforms {
		b, ok := m[p]
		if !ok { // trimmed key
			for k, v := range m {
				if strings.TrimSpace(k) == p {
					b = v
					break
				}
			}
		}
		if b < 0 {
			return misconfigured{"Minimum OS build", "minimum OS build " + strconv.FormatInt(b, 10) + " for " + p + " is negative"}
		}
		c.builds = append(c.builds, b)
		c.wants = append(c.wants, strconv.FormatInt(b, 10))
	}
	if len(c.platforms) == 0 {
		return misconfigured{"Minimum OS build", "minimum OS build names no platform"}
	}
	return c
}

func (minOSBuild) Name() string { return "Minimum OS build" }

func (c minOSBuild) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	p := in.Device.OSPlatform
	if p == "" {
		return unknown("OS platform not reported, needed for the minimum OS build" + dataSuffix(in))
	}
	i := indexFold(c.platforms, p)
	if i < 0 {
		return passed
	}
	want := c.builds[i]
	b := in.Device.OSBuild
	switch {
	case b <= 0 && want > 0:
		return unknown("OS build not reported for " + p + ", required at least " + c.wants[i] + dataSuffix(in))
	case b < want:
		var buf [20]byte
		return fail("OS build " + string(strconv.AppendInt(buf[:0], b, 10)) + " on " + p + ", required at least " + c.wants[i] + dataSuffix(in))
	}
	return passed
}
