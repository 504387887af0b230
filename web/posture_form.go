package web

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"postern/internal/defender/vocab"
	"postern/internal/posture"
)

// checkForm is the posture check editor's input, kept as typed so a failed
// save re-renders exactly what the admin entered.
type checkForm struct {
	Name            string
	Description     string
	Source          string
	Mode            string
	WhenUnavailable string
	Enabled         bool
	Spec            posture.Spec
	// Raw text of numeric fields, so "abc" is shown back, not "0".
	LastSeenHours string
	MinBuild      map[string]string
	Signals       signalsRaw
}

// Form limits.
const (
	maxCheckName        = 80
	maxCheckDescription = 500
)

// parseCheckForm reads the editor form; problems maps fields to messages.
// It never panics on any input (a fuzz target holds it to that).
func parseCheckForm(v url.Values) (checkForm, map[string]string) {
	f := checkForm{
		Name:            strings.TrimSpace(v.Get("name")),
		Description:     strings.TrimSpace(v.Get("description")),
		Source:          v.Get("source"),
		Mode:            v.Get("mode"),
		WhenUnavailable: v.Get("when_unavailable"),
		Enabled:         v.Get("enabled") != "",
		LastSeenHours:   strings.TrimSpace(v.Get("last_seen_hours")),
		MinBuild:        map[string]string{},
	}
	p := map[string]string{}
	switch {
	case f.Name == "":
		p["name"] = "Name the check, e.g. “Low risk only”."
	case utf8.RuneCountInString(f.Name) > maxCheckName || !utf8.ValidString(f.Name):
		p["name"] = "Use at most 80 characters."
	}
	if utf8.RuneCountInString(f.Description) > maxCheckDescription || !utf8.ValidString(f.Description) {
		p["description"] = "Use at most 500 characters."
	}
	if f.Mode != posture.ModeEnforce && f.Mode != posture.ModeMonitor {
		f.Mode = posture.ModeEnforce
	}
	if f.WhenUnavailable != posture.UnavailableAllow {
		f.WhenUnavailable = posture.UnavailableDeny
	}
	s := &f.Spec
	switch f.Source {
	case posture.SourceDefender:
		s.HealthActive = v.Get("health_status") == vocab.HealthActive
		s.MaxRisk = v.Get("max_risk")
		s.MaxExposure = v.Get("max_exposure")
		s.RequireOnboarded = v.Get("onboarding_status") == vocab.Onboarded
		s.AVStatuses = limit(v["av_statuses"])
		s.OSPlatforms = limit(v["os_platforms"])
		s.RequireEntraJoined = v.Get("entra_joined") != ""
		s.RequiredTags = splitList(v.Get("required_tags"))
		s.ForbiddenTags = splitList(v.Get("forbidden_tags"))
		if f.LastSeenHours != "" {
			h, err := strconv.Atoi(f.LastSeenHours)
			if err != nil || h <= 0 {
				p["last_seen_hours"] = "Enter a whole number of hours, at least 24."
			} else {
				s.LastSeenHours = h
			}
		}
		parseBuilds(v, &f, p)
		parseSignals(v, &f, p)
	case posture.SourceDeviceReport:
		s.ReportOS = limit(v["report_os"])
		s.ReportMinOSVersion = strings.TrimSpace(v.Get("report_min_os_version"))
		s.ReportFirewall = v.Get("report_firewall") != ""
		s.ReportDiskEncrypted = v.Get("report_disk_encrypted") != ""
		s.ReportMinClientVersion = strings.TrimSpace(v.Get("report_min_client_version"))
	}
	for field, msg := range s.Validate(f.Source) {
		if _, taken := p[field]; !taken {
			p[field] = msg
		}
	}
	return f, p
}

// parseBuilds reads min_build.<platform> fields; only non-empty ones count.
func parseBuilds(v url.Values, f *checkForm, p map[string]string) {
	keys := make([]string, 0)
	for k := range v {
		if strings.HasPrefix(k, "min_build.") && len(keys) < posture.MaxSetLen {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		platform := strings.TrimPrefix(k, "min_build.")
		raw := strings.TrimSpace(v.Get(k))
		if raw == "" || platform == "" || len(platform) > 64 {
			continue
		}
		f.MinBuild[platform] = raw
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			p["min_os_build"] = "A minimum OS build is a whole number, such as 22631."
			continue
		}
		if f.Spec.MinOSBuild == nil {
			f.Spec.MinOSBuild = map[string]int64{}
		}
		f.Spec.MinOSBuild[platform] = n
	}
}

// splitList reads a comma- or newline-separated list.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return limit(out)
}

// limit caps a repeated field so a hostile form cannot grow without bound;
// Validate reports the excess.
func limit(vals []string) []string {
	if len(vals) > posture.MaxTags+1 {
		vals = vals[:posture.MaxTags+1]
	}
	return vals
}
