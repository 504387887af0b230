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

// renderTags shows the device's tags in a reason.
func renderTags(tags []string) string {
	if len(tags) == 0 {
		return "(none)"
	}
	return "[" + joinComma(tags) + "]"
}
