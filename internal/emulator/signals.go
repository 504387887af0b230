package emulator

import "math/rand/v2"

// Signals are the posture fields of one machine drawn from the value mixes
// the generator uses ("" stands for null). Benchmarks that build their own
// fleets draw from it, so their fleets have the emulator's shape.
type Signals struct {
	Platform, Health, Onboarding, Risk, Exposure, AV string
}

// DrawSignals draws each field independently from its mix.
func DrawSignals(r *rand.Rand) Signals {
	return Signals{
		Platform:   pick(r, platformMix),
		Health:     pick(r, healthMix),
		Onboarding: pick(r, onboardingMix),
		Risk:       pick(r, riskMix),
		Exposure:   pick(r, exposureMix),
		AV:         pick(r, avMix),
	}
}
