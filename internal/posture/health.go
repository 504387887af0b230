package posture

import (
	"strings"

	"postern/internal/defender/vocab"
)

// healthActive requires Defender's health status to be Active.
type healthActive struct{}

func (healthActive) Name() string { return "Health status" }

func (healthActive) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	v := in.Device.HealthStatus
	switch {
	case v == "":
		return unknown("health status not reported, required " + vocab.HealthActive + dataSuffix(in))
	case strings.EqualFold(v, vocab.HealthActive):
		return passed
	}
	return fail("health status " + v + ", required " + vocab.HealthActive + dataSuffix(in))
}
