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
	for _, t := range f.tags {
		if hasTag(have, t) {
			return fail(tagsReason(have, " include the forbidden ", f.tags, true, dataSuffix(in)))
		}
	}
	return passed
}
