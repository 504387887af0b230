package posture

import (
	"postern/internal/defender/vocab"
)

var avModes = vocab.AVMode.Names()

// avMode requires the antivirus mode of Defender's antivirus health report
// to be one of a set (e.g. Active: not Passive, not EDR block only).
type avMode struct {
	allowed []string
	want    string
}

func newAVMode(vals []string) Condition {
	allowed := cleanSet(vals, avModes)
	if len(allowed) == 0 {
		return misconfigured{"Antivirus mode", "antivirus mode set is empty"}
	}
	return avMode{allowed: allowed, want: oneOf(allowed)}
}

func (avMode) Name() string { return "Antivirus mode" }

func (a avMode) Evaluate(in *Input) Outcome {
	av, reason, ok := avGate(in, "antivirus mode", a.want)
	if !ok {
		return unknown(reason)
	}
	got := vocab.AVModeName(av.Mode)
	if indexFold(a.allowed, got) >= 0 {
		return passed
	}
	return fail("antivirus mode " + got + ", required " + a.want + avAge(in, av))
}
