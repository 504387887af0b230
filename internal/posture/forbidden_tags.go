package posture

// forbiddenTags refuses devices carrying any listed machine tag, e.g. a
// "quarantine" tag set by the SOC.
type forbiddenTags struct{ tags []string }

func newForbiddenTags(tags []string) Condition {
	t := cleanTags(tags)
	if len(t) == 0 {
		return misconfigured{"Forbidden tags", "forbidden tags are all empty"}
	}
	return forbiddenTags{t}
}

func (forbiddenTags) Name() string { return "Forbidden tags" }

func (f forbiddenTags) Evaluate(in *Input) Outcome {
	if reason, ok := defenderGate(in); ok {
		return unknown(reason)
	}
	have := in.Device.Tags
	var found []string
	for _, t := range f.tags {
		if hasTag(have, t) {
			found = append(found, t)
		}
	}
	if len(found) == 0 {
		return passed
	}
	return fail("tags " + renderTags(have) + " include the forbidden " + joinComma(found) + dataSuffix(in))
}
