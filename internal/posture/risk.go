package posture

import "postern/internal/fleet"

// newMaxRisk caps Defender's risk score: None < Informational < Low <
// Medium < High.
func newMaxRisk(limit string) Condition {
	return newMaxLevel("Maximum risk score", "risk score", riskLevels, limit,
		func(d *fleet.Device) string { return d.RiskScore })
}
