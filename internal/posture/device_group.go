package posture

// deviceGroup requires Defender's device group (rbacGroupName, set by the
// tenant's admins) to be one of a set. Unlike machine tags, which a local
// admin can set on the device itself, the group is assigned in Defender;
// it is only as strong as the group's rule, which may itself match on
// tags or the device name (docs/design.md#device-group).
type deviceGroup struct {
	allowed []string
	want    string
}

func newDeviceGroup(vals []string) Condition {
	allowed := cleanSet(vals, nil)
	if len(allowed) == 0 {
		return misconfigured{"Device group", "device group set is empty"}
	}
	return deviceGroup{allowed: allowed, want: oneOf(allowed)}
}

func (deviceGroup) Name() string { return "Device group" }

func (g deviceGroup) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	v := in.Device.RBACGroup
	switch {
	case v == "":
		return unknown("device group not reported (the machine is in no device group), required " + g.want + dataSuffix(in))
	case indexFold(g.allowed, v) >= 0:
		return passed
	}
	return fail("device group " + shown(v) + ", required " + g.want + dataSuffix(in))
}
