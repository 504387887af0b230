package posture

// avStatus requires the Defender Antivirus status to be one of a set.
type avStatus struct {
	allowed []string // canonical spelling
	want    string   // rendered set
}

func newAVStatus(vals []string) Condition {
	allowed := cleanSet(vals, avStatuses)
	if len(allowed) == 0 {
		return misconfigured{"Antivirus status", "antivirus status set is empty"}
	}
	return avStatus{allowed: allowed, want: oneOf(allowed)}
}

func (avStatus) Name() string { return "Antivirus status" }

func (a avStatus) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	v := in.Device.AVStatus
	switch {
	case v == "":
		return unknown("antivirus status not reported, required " + a.want + dataSuffix(in))
	case indexFold(a.allowed, v) >= 0:
		return passed
	}
	return fail("antivirus status " + canonical(avStatuses, v) + ", required " + a.want + dataSuffix(in))
}
