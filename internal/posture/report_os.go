package posture

// reportOS requires the OS the gateway reports to be one of a set
// (Windows, macOS, Linux, iOS, Android; "darwin" counts as macOS).
type reportOS struct {
	allowed []string
	want    string
	missing string // the reason when no OS is reported, built once
}

func newReportOS(vals []string) Condition {
	allowed := make([]string, 0, len(vals))
	for _, v := range cleanSet(vals, reportOSes) {
		if v = reportOSName(v); indexFold(allowed, v) < 0 {
			allowed = append(allowed, v)
		}
	}
	if len(allowed) == 0 {
		return misconfigured{"OS", "device report OS set is empty"}
	}
	want := oneOf(allowed)
	return reportOS{allowed: allowed, want: want, missing: "device report: OS not reported, required " + want}
}

func (reportOS) Name() string { return "OS" }

func (r reportOS) Evaluate(in *Input) Outcome {
	v := reportOSName(in.Report.OS)
	switch {
	case v == "":
		return unknown(r.missing)
	case indexFold(r.allowed, v) >= 0:
		return passed
	}
	return fail("device report: OS " + shown(v) + ", required " + r.want)
}
