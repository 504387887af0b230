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
	ok := true
	for _, t := range r.tags {
		if !hasTag(have, t) {
			ok = false
			break
		}
	}
	if ok {
		return passed
	}
	var missing []string
	for _, t := range r.tags {
		if !hasTag(have, t) {
			missing = append(missing, t)
		}
	}
	return fail("tags " + renderTags(have) + " lack the required " + joinComma(missing) + dataSuffix(in))
}
