package posture

// requiredTags requires every listed machine tag.
type requiredTags struct{ tags []string }

func newRequiredTags(tags []string) Condition {
	t := cleanTags(tags)
	if len(t) == 0 {
		return misconfigured{"Required tags", "required tags are all empty"}
	}
	return requiredTags{t}
}

func (requiredTags) Name() string { return "Required tags" }

func (r requiredTags) Evaluate(in *Input) Outcome {
	if reason, ok := defenderGate(in); ok {
		return unknown(reason)
	}
	have := in.Device.Tags
	for _, t := range r.tags {
		if !hasTag(have, t) {
			return fail(tagsReason(have, " lack the required ", r.tags, false, dataSuffix(in)))
		}
	}
	return passed
}
