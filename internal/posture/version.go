package posture

import "strings"

// maxVersionParts bounds dotted versions; OS versions have at most four
// parts (10.0.22631.3296), so six leaves room.
const maxVersionParts = 6

// version is a parsed dotted version; missing parts compare as 0, so
// 10.0 equals 10.0.0. It holds substrings of its input, never copies.
type version struct {
	nums [maxVersionParts]int64
	n    int
	pre  string // semver pre-release, "" for a release
}

// parseDotted parses a strict dotted number ("10.0.22631"), as an admin
// types the required OS version.
func parseDotted(s string) (version, bool) {
	v, rest, ok := parseNums(s)
	return v, ok && rest == ""
}

// parseReportedOS parses the OS version a gateway reports, keeping the
// leading dotted number and ignoring what follows: "6.8.0-45-generic",
// "17.4 (21E219)".
func parseReportedOS(s string) (version, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	v, _, ok := parseNums(s)
	return v, ok
}

// parseSemver parses a semver-ish client version: an optional "v",
// one to six numeric parts, an optional "-pre.release" and "+build".
func parseSemver(s string) (version, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	v, rest, ok := parseNums(s)
	if !ok {
		return v, false
	}
	if b, build, found := strings.Cut(rest, "+"); found {
		if build == "" || !identChars(build) {
			return v, false
		}
		rest = b
	}
	if rest == "" {
		return v, true
	}
	if rest[0] != '-' || len(rest) == 1 || !identChars(rest[1:]) {
		return v, false
	}
	v.pre = rest[1:]
	for id := range strings.SplitSeq(v.pre, ".") {
		if id == "" {
			return v, false
		}
	}
	return v, true
}

// parseNums reads digits ('.' digits)* from the start of s and returns
// what follows. A part may have at most 18 digits (no overflow).
func parseNums(s string) (v version, rest string, ok bool) {
	i := 0
	for {
		j := i
		var n int64
		for j < len(s) && s[j] >= '0' && s[j] <= '9' && j-i < 18 {
			n = n*10 + int64(s[j]-'0')
			j++
		}
		if j == i || (j < len(s) && s[j] >= '0' && s[j] <= '9') || v.n == maxVersionParts {
			return v, "", false
		}
		v.nums[v.n] = n
		v.n++
		i = j
		if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
			i++
			continue
		}
		return v, s[i:], true
	}
}

func identChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// compareVersions returns -1, 0 or +1 with semver precedence: numeric
// parts first, then a pre-release sorts before its release.
func compareVersions(a, b version) int {
	for i := range maxVersionParts {
		if a.nums[i] != b.nums[i] {
			if a.nums[i] < b.nums[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return comparePre(a.pre, b.pre)
}

// comparePre compares dot-separated pre-release identifiers: numeric ones
// numerically and below alphanumeric ones; a prefix sorts first.
func comparePre(a, b string) int {
	for a != "" && b != "" {
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		xn, yn := allDigits(x), allDigits(y)
		switch {
		case xn && yn:
			x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
			if len(x) != len(y) {
				return cmpInt(len(x), len(y))
			}
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		case xn:
			return -1
		case yn:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
