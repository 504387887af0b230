package posture

// reportOS requires the OS the gateway reports to be one of a set
// (Windows, macOS, Linux, iOS, Android; "darwin" counts as macOS).
type reportOS struct {
	allowed []string
	want    string
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
	return reportOS{allowed: allowed, want: oneOf(allowed)}
}

func (reportOS) Name() string { return "OS" }

func (r reportOS) Evaluate(in *Input) Outcome {
	v := reportOSName(in.Report.OS)
	switch {
	case v == "":
		return unknown("device report: OS not reported, required " + r.want)
	case indexFold(r.allowed, v) >= 0:
		return passed
	}
	return fail("device report: OS " + shown(v) + ", required " + r.want)
}
