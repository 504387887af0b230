package posture

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits the editor enforces.
const (
	MinLastSeenHours = 48 // lastSeen is the last full device report, about daily
	MaxLastSeenHours = maxLastSeenHours
	MaxTags          = 50
	MaxTagLen        = 128
	MaxSetLen        = 50  // OS platforms, builds per platform
	maxNameLen       = 128 // a platform name
)

// LastSeenMinMessage is the editor's message for a Last seen within under
// the minimum: Defender's lastSeen is the last full device report, sent
// about once a day, so a shorter window denies healthy devices between two
// reports (docs/troubleshooting.md#last-seen-minimum).
const LastSeenMinMessage = "Must be at least 48 hours: Defender's lastSeen is the device's last full report, sent about once a day, so a shorter window would deny healthy devices between reports"

// Validate checks a spec for a check of source ("defender" or
// "device_report") and returns field → message for the editor, keyed by
// the JSON field name ("source" and "conditions" for the whole check);
// nil when the spec is valid.
func (s Spec) Validate(source string) map[string]string {
	errs := map[string]string{}
	def, rep := s.defenderFields(), s.reportFields()
	switch source {
	case SourceDefender:
		if len(def) == 0 {
			errs["conditions"] = "Choose at least one condition"
		}
	case SourceDeviceReport:
		if len(rep) == 0 {
			errs["conditions"] = "Choose at least one condition"
		}
	default:
		errs["source"] = "Choose a data source: Microsoft Defender or Device report"
		if len(def)+len(rep) == 0 {
			errs["conditions"] = "Choose at least one condition"
		}
	}
	s.validateDefender(errs)
	s.validateSignals(errs, source, def)
	s.validateReport(errs)
	// The other source's conditions would be silently ignored: say so.
	if source == SourceDefender {
		for _, f := range rep {
			errs[f] = "Device report conditions do not apply to a Microsoft Defender check"
		}
	}
	if source == SourceDeviceReport {
		for _, f := range def {
			errs[f] = "Microsoft Defender conditions do not apply to a Device report check"
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (s Spec) validateDefender(errs map[string]string) {
	if s.MaxRisk != "" && indexFold(riskLevels, strings.TrimSpace(s.MaxRisk)) < 0 {
		errs["max_risk"] = "Choose one of " + strings.Join(riskLevels, ", ")
	}
	if s.MaxExposure != "" && indexFold(exposureLevels, strings.TrimSpace(s.MaxExposure)) < 0 {
		errs["max_exposure"] = "Choose one of " + strings.Join(exposureLevels, ", ")
	}
	for _, v := range s.AVStatuses {
		if indexFold(avStatuses, strings.TrimSpace(v)) < 0 {
			errs["av_statuses"] = "Unknown antivirus status " + strconv.Quote(shown(v)) + ": choose from " + strings.Join(avStatuses, ", ")
			break
		}
	}
	switch h := s.LastSeenHours; {
	case h == 0:
	case h < MinLastSeenHours:
		errs["last_seen_hours"] = LastSeenMinMessage
	case h > MaxLastSeenHours:
		errs["last_seen_hours"] = "Must be at most " + strconv.Itoa(MaxLastSeenHours) + " (a year)"
	}
	if msg := checkNames(s.OSPlatforms, "OS platforms"); msg != "" {
		errs["os_platforms"] = msg
	}
	if msg := checkNames(s.DeviceGroups, "device groups"); msg != "" {
		errs["device_groups"] = msg
	}
	if msg := checkBuilds(s.MinOSBuild); msg != "" {
		errs["min_os_build"] = msg
	}
	if msg := checkTags(s.RequiredTags); msg != "" {
		errs["required_tags"] = msg
	}
	if msg := checkTags(s.ForbiddenTags); msg != "" {
		errs["forbidden_tags"] = msg
	} else {
		for _, t := range s.ForbiddenTags {
			if hasTag(s.RequiredTags, strings.TrimSpace(t)) {
				errs["forbidden_tags"] = "Tag " + strconv.Quote(strings.TrimSpace(t)) + " is also required"
				break
			}
		}
	}
}

func (s Spec) validateReport(errs map[string]string) {
	for _, v := range s.ReportOS {
		if indexFold(reportOSes, reportOSName(v)) < 0 {
			errs["report_os"] = "Unknown OS " + strconv.Quote(shown(v)) + ": choose from " + strings.Join(reportOSes, ", ")
			break
		}
	}
	if v := s.ReportMinOSVersion; v != "" {
		if _, ok := parseDotted(strings.TrimSpace(v)); !ok {
			errs["report_min_os_version"] = "Use a dotted number such as 10.0.22631"
		}
	}
	if v := s.ReportMinClientVersion; v != "" {
		if _, ok := parseSemver(v); !ok {
			errs["report_min_client_version"] = "Use a version such as 1.4.2"
		}
	}
}

func checkNames(vals []string, what string) string {
	if len(vals) > MaxSetLen {
		return "At most " + strconv.Itoa(MaxSetLen) + " " + what
	}
	for _, v := range vals {
		switch v = strings.TrimSpace(v); {
		case v == "":
			return strings.ToUpper(what[:1]) + what[1:] + " must not be empty"
		case utf8.RuneCountInString(v) > maxNameLen || !utf8.ValidString(v):
			return "Use names of at most " + strconv.Itoa(maxNameLen) + " characters"
		}
	}
	return ""
}

func checkBuilds(m map[string]int64) string {
	if len(m) > MaxSetLen {
		return "At most " + strconv.Itoa(MaxSetLen) + " platforms"
	}
	keys := slices.Sorted(maps.Keys(m)) // deterministic messages
	seen := make([]string, 0, len(m))
	for _, k := range keys {
		p, b := strings.TrimSpace(k), m[k]
		switch {
		case p == "":
			return "Name the platform of each minimum build"
		case utf8.RuneCountInString(p) > maxNameLen || !utf8.ValidString(p):
			return "Use platform names of at most " + strconv.Itoa(maxNameLen) + " characters"
		case b < 0:
			return "The minimum build for " + strconv.Quote(p) + " must not be negative"
		case indexFold(seen, p) >= 0:
			return "Platform " + strconv.Quote(p) + " is listed twice"
		case !ReportsOSBuild(p):
			return "Defender reports an OS build only for Windows, so a minimum build for " + strconv.Quote(p) + " could never be met: remove it"
		}
		seen = append(seen, p)
	}
	return ""
}

func checkTags(tags []string) string {
	if len(tags) > MaxTags {
		return "At most " + strconv.Itoa(MaxTags) + " tags"
	}
	for _, t := range tags {
		switch t = strings.TrimSpace(t); {
		case t == "":
			return "Tags must not be empty"
		case !utf8.ValidString(t):
			return "Tags must be valid text"
		case utf8.RuneCountInString(t) > MaxTagLen:
			return "Tags are at most " + strconv.Itoa(MaxTagLen) + " characters"
		}
	}
	return ""
}
