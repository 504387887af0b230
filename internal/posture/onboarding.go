package posture

import (
	"strings"

	"postern/internal/defender/vocab"
)

// onboarded requires Defender's onboarding status to be Onboarded. The
// docs spell it "onboarded", real JSON "Onboarded": compare ignoring case.
type onboarded struct{}

func (onboarded) Name() string { return "Onboarding status" }

func (onboarded) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	v := in.Device.OnboardingStatus
	switch {
	case v == "":
		return unknown("onboarding status not reported, required " + vocab.Onboarded + dataSuffix(in))
	case strings.EqualFold(v, vocab.Onboarded):
		return passed
	}
	return fail("onboarding status " + v + ", required " + vocab.Onboarded + dataSuffix(in))
}
