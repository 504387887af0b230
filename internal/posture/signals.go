package posture

import (
	"strconv"
	"strings"
	"time"

	"postern/internal/fleet"
)

// The conditions on Defender's richer signals (docs/posture-conditions.md):
// the antivirus health report (Antivirus mode, Security intelligence up to
// date, Full scan within), the sensor version, and the two settings that
// shape a whole check rather than test one thing: Device value (scope) and
// First seen grace.

// Limits the editor enforces on them.
const (
	MaxSignatureAgeDays  = 365
	MaxFullScanDays      = 365
	MaxFirstSeenGraceHrs = 24 * 30
)

// appendSignalConditions appends the compiled signal conditions, in editor
// order, after the other Defender conditions.
func (s Spec) appendSignalConditions(cs []Condition) []Condition {
	if len(s.AVModes) > 0 {
		cs = append(cs, newAVMode(s.AVModes))
	}
	if s.SignatureUpToDate || s.SignatureMaxAgeDays != 0 {
		cs = append(cs, newSignatureFresh(s.SignatureUpToDate, s.SignatureMaxAgeDays))
	}
	if s.FullScanDays != 0 {
		cs = append(cs, newFullScan(s.FullScanDays))
	}
	if s.MinSensorVersion != "" {
		cs = append(cs, newMinSensorVersion(s.MinSensorVersion))
	}
	return cs
}

// signalFields name, by JSON key, the signal conditions that are set; the
// last two are modifiers, not conditions (see Validate).
func (s Spec) signalFields() []string {
	var f []string
	add := func(set bool, name string) {
		if set {
			f = append(f, name)
		}
	}
	add(len(s.AVModes) > 0, "av_modes")
	add(s.SignatureUpToDate, "signature_up_to_date")
	add(s.SignatureMaxAgeDays != 0, "signature_max_age_days")
	add(s.FullScanDays != 0, "full_scan_days")
	add(s.MinSensorVersion != "", "min_sensor_version")
	add(len(s.DeviceValues) > 0, "device_values")
	add(s.FirstSeenGraceHours != 0, "first_seen_grace_hours")
	return f
}

// onlyModifiers reports whether the Defender settings of s are Device value
// or First seen grace alone: a check that then tests nothing.
func (s Spec) onlyModifiers(def []string) bool {
	for _, f := range def {
		if f != "device_values" && f != "first_seen_grace_hours" {
			return false
		}
	}
	return len(def) > 0
}

// avGate reports why the antivirus health of the device cannot be judged,
// if it cannot: the Defender gate, a report the last sync could not read,
// or a device the report does not list.
// The reason names what is unknown and what is required.
func avGate(in *Input, what, want string) (*fleet.AV, string, bool) {
	if r, ok := defenderGate(in); ok {
		return nil, r, false
	}
	if in.AVUnknown != "" {
		return nil, what + " unknown: " + in.AVUnknown + ", required " + want + dataSuffix(in), false
	}
	if in.Device.AV == nil {
		return nil, what + " unknown: Defender's antivirus health report does not list this device, required " + want + dataSuffix(in), false
	}
	return in.Device.AV, "", true
}

// avAge is " (antivirus report of <time>, Defender data from …)": the age
// of the report row, then of the sync.
func avAge(in *Input, av *fleet.AV) string {
	s := dataSuffix(in)
	if av.RefreshedAt.IsZero() {
		return s
	}
	return " (antivirus report of " + av.RefreshedAt.UTC().Format(time.RFC3339) + ")" + s
}

// daysAgo renders how long ago t was in whole days, rounded up.
func daysAgo(now, t time.Time) string {
	d := now.Sub(t)
	n := int64((d + 24*time.Hour - 1) / (24 * time.Hour))
	return plural(max(n, 0), "day") + " ago"
}

// validateSignals checks the signal settings into errs, keyed by JSON name.
func (s Spec) validateSignals(errs map[string]string, source string, def []string) {
	if source == SourceDefender && s.onlyModifiers(def) && errs["conditions"] == "" {
		errs["conditions"] = "Device value and First seen grace only shape a check: choose at least one condition for it to test"
	}
	for _, v := range s.AVModes {
		if indexFold(avModes, strings.TrimSpace(v)) < 0 {
			errs["av_modes"] = "Unknown antivirus mode " + strconv.Quote(shown(v)) + ": choose from " + strings.Join(avModes, ", ")
			break
		}
	}
	for _, v := range s.DeviceValues {
		if indexFold(deviceValues, strings.TrimSpace(v)) < 0 {
			errs["device_values"] = "Unknown device value " + strconv.Quote(shown(v)) + ": choose from " + strings.Join(deviceValues, ", ")
			break
		}
	}
	if d := s.SignatureMaxAgeDays; d < 0 || d > MaxSignatureAgeDays {
		errs["signature_max_age_days"] = "Use 1 to " + strconv.Itoa(MaxSignatureAgeDays) + " days"
	}
	if d := s.FullScanDays; d < 0 || d > MaxFullScanDays {
		errs["full_scan_days"] = "Use 1 to " + strconv.Itoa(MaxFullScanDays) + " days"
	}
	if h := s.FirstSeenGraceHours; h < 0 || h > MaxFirstSeenGraceHrs {
		errs["first_seen_grace_hours"] = "Use 1 to " + strconv.Itoa(MaxFirstSeenGraceHrs) + " hours (30 days)"
	}
	if v := s.MinSensorVersion; v != "" {
		if _, ok := parseDotted(strings.TrimSpace(v)); !ok {
			errs["min_sensor_version"] = "Use a dotted number such as 10.8760.26100.3037"
		}
	}
}
