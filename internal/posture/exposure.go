package posture

import "postern/internal/fleet"

// newMaxExposure caps Defender's exposure level: None < Low < Medium < High.
// Defender stops updating an excluded machine's exposure level, so for one
// the condition is unknown with Defender's exclusion reason.
func newMaxExposure(limit string) Condition {
	c := newMaxLevel("Maximum exposure level", "exposure level", exposureLevels, limit,
		func(d *fleet.Device) string { return d.ExposureLevel })
	if l, ok := c.(maxLevel); ok {
		return maxExposure{l}
	}
	return c
}

type maxExposure struct{ maxLevel }

func (e maxExposure) Evaluate(in *Input) Outcome {
	if _, ok := defenderGate(in); !ok && in.Device.IsExcluded {
		return unknown(excludedReason(in.Device) + ", so its exposure level " + shownLevel(in.Device.ExposureLevel) +
			" is no longer kept up to date, allowed at most " + e.levels[e.max] + dataSuffix(in))
	}
	return e.maxLevel.Evaluate(in)
}

// excludedReason says that an admin excluded d in Defender, and why.
func excludedReason(d *fleet.Device) string {
	s := "Defender machine " + d.ID + " is excluded"
	if d.ExclusionReason != "" {
		s += " (" + shown(d.ExclusionReason) + ")"
	}
	return s
}

func shownLevel(v string) string {
	if v == "" {
		return "(none)"
	}
	return shown(v)
}
