package posture

// reportFlag requires a boolean the gateway reports to be on: firewall,
// disk encryption. Not reported is unknown, not off.
type reportFlag struct {
	name         string
	off, missing string // reasons, built once
	get          func(*Report) *bool
}

func newReportFlag(name, label string, get func(*Report) *bool) Condition {
	return reportFlag{name: name, get: get,
		off:     "device report: " + label + " off, required on",
		missing: "device report: " + label + " not reported, required on"}
}

func newReportFirewall() Condition {
	return newReportFlag("Firewall", "firewall", func(r *Report) *bool { return r.Firewall })
}

func newReportDiskEncrypted() Condition {
	return newReportFlag("Disk encryption", "disk encryption", func(r *Report) *bool { return r.DiskEncrypted })
}

func (f reportFlag) Name() string { return f.name }

func (f reportFlag) Evaluate(in *Input) Outcome {
	v := f.get(&in.Report)
	switch {
	case v == nil:
		return unknown(f.missing)
	case !*v:
		return fail(f.off)
	}
	return passed
}
