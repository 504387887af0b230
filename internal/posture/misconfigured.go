package posture

// misconfigured stands in for a condition whose stored settings cannot be
// evaluated (an unknown level, a malformed version, a check without
// conditions). As in NetBird, an error counts as a fail: a broken check
// must not silently let devices through.
type misconfigured struct {
	name, problem string
}

func (m misconfigured) Name() string { return m.name }

func (m misconfigured) Evaluate(*Input) Outcome {
	return fail("check misconfigured: " + m.problem)
}
