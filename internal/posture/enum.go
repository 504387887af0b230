package posture

import (
	"strings"

	"postern/internal/defender/vocab"
)

// Defender enum values in their documented spelling, from vocab, used to
// render reasons and editor messages. Real JSON casing differs from the
// docs (docs/defender-api.md#casing), so lookups are case-insensitive.
var (
	// riskLevels and exposureLevels are ordered from best to worst.
	riskLevels     = vocab.Risk.Names()
	exposureLevels = vocab.Exposure.Names()
	avStatuses     = vocab.Antivirus.Names()
	// reportOSes are the OS names a gateway may report: the device
	// report's own vocabulary, not Defender's.
	reportOSes = []string{"Windows", "macOS", "Linux", "iOS", "Android"}
)

// indexFold is the index of v in vals ignoring case, or -1.
func indexFold(vals []string, v string) int {
	for i, x := range vals {
		if strings.EqualFold(x, v) {
			return i
		}
	}
	return -1
}

// canonical returns v in the spelling of vals when it is one of them.
func canonical(vals []string, v string) string {
	if i := indexFold(vals, v); i >= 0 {
		return vals[i]
	}
	return v
}

// reportOSName maps a reported OS to its name in reportOSes; Go-style
// "darwin" (what NetBird-like clients send) is macOS.
func reportOSName(v string) string {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "darwin") {
		return "macOS"
	}
	return canonical(reportOSes, v)
}

// cleanSet trims, drops empties and duplicates (ignoring case) and maps
// known values to their canonical spelling, keeping the order given.
func cleanSet(vals []string, known []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if v == "" || indexFold(out, v) >= 0 {
			continue
		}
		if known != nil {
			v = canonical(known, v)
		}
		out = append(out, v)
	}
	return out
}
