package posture

// osPlatform requires Defender's osPlatform (an open string such as
// Windows11 or macOS) to be one of a set.
type osPlatform struct {
	allowed []string
	want    string
}

func newOSPlatform(vals []string) Condition {
	allowed := cleanSet(vals, nil)
	if len(allowed) == 0 {
		return misconfigured{"OS platform", "OS platform set is empty"}
	}
	return osPlatform{allowed: allowed, want: oneOf(allowed)}
}

func (osPlatform) Name() string { return "OS platform" }

func (p osPlatform) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	v := in.Device.OSPlatform
	switch {
	case v == "":
		return unknown("OS platform not reported, required " + p.want + dataSuffix(in))
	case indexFold(p.allowed, v) >= 0:
		return passed
	}
	return fail("OS platform " + v + ", required " + p.want + dataSuffix(in))
}
