package posture

import "strings"

// Tags are compared ignoring case and surrounding space: Defender tags
// are typed by hand in the portal.

func cleanTags(tags []string) []string { return cleanSet(tags, nil) }

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if strings.EqualFold(strings.TrimSpace(x), t) {
			return true
		}
	}
	return false
}

// tagsReason is a tag condition's reason, built in one allocation: the
// device's tags (have), verb, the tags of listed the device has (has) or
// lacks (!has), and the data's suffix: "tags [a, b] lack the required c,
// d (Defender data from …)".
func tagsReason(have []string, verb string, listed []string, has bool, suffix string) string {
	n := len("tags (none)") + len(verb) + len(suffix)
	for _, t := range have {
		n += len(t) + len(", ")
	}
	for _, t := range listed {
		n += len(t) + len(", ")
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString("tags ")
	if len(have) == 0 {
		b.WriteString("(none)")
	} else {
		b.WriteByte('[')
		for i, t := range have {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t)
		}
		b.WriteByte(']')
	}
	b.WriteString(verb)
	sep := ""
	for _, t := range listed {
		if hasTag(have, t) == has {
			b.WriteString(sep)
			b.WriteString(t)
			sep = ", "
		}
	}
	b.WriteString(suffix)
	return b.String()
}
