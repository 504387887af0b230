package posture

import (
	"strings"

	"postern/internal/defender/vocab"
)

var deviceValues = vocab.DeviceValue.Names()

// outOfScope reports whether the check does not apply to the device
// because of its Device value setting: a check for High-value devices
// passes every other device without looking at its conditions. A device
// whose value is not known (no machine, stale data, no value) is in scope:
// the check then decides, and fails closed.
func outOfScope(s *Spec, in *Input) bool {
	if len(s.DeviceValues) == 0 || in.Device == nil {
		return false
	}
	if _, gated := defenderGate(in); gated {
		return false
	}
	v := strings.TrimSpace(in.Device.DeviceValue)
	if v == "" {
		return false
	}
	for _, want := range s.DeviceValues {
		if strings.EqualFold(strings.TrimSpace(want), v) {
			return false
		}
	}
	return true
}
