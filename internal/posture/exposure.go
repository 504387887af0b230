package posture

import "postern/internal/fleet"

// newMaxExposure caps Defender's exposure level: None < Low < Medium < High.
func newMaxExposure(limit string) Condition {
	return newMaxLevel("Maximum exposure level", "exposure level", exposureLevels, limit,
		func(d *fleet.Device) string { return d.ExposureLevel })
}
