package web

import (
	"net/url"
	"strconv"
	"strings"

	"postern/internal/posture"
	"postern/views"
)

// signalsRaw is the text of the signal conditions' number fields as typed,
// so that "abc" is shown back, not "0".
type signalsRaw struct {
	SignatureMaxAgeDays string
	FullScanDays        string
	FirstSeenGraceHours string
}

// parseSignals reads the richer Defender signal fields of the editor into
// f.Spec; problems go to p by JSON field name.
func parseSignals(v url.Values, f *checkForm, p map[string]string) {
	s := &f.Spec
	s.AVModes = limit(v["av_modes"])
	s.SignatureUpToDate = v.Get("signature_up_to_date") != ""
	s.MinSensorVersion = strings.TrimSpace(v.Get("min_sensor_version"))
	s.DeviceValues = limit(v["device_values"])
	f.Signals = signalsRaw{
		SignatureMaxAgeDays: strings.TrimSpace(v.Get("signature_max_age_days")),
		FullScanDays:        strings.TrimSpace(v.Get("full_scan_days")),
		FirstSeenGraceHours: strings.TrimSpace(v.Get("first_seen_grace_hours")),
	}
	s.SignatureMaxAgeDays = wholeNumber(f.Signals.SignatureMaxAgeDays, "signature_max_age_days", "Enter a whole number of days, such as 3.", p)
	s.FullScanDays = wholeNumber(f.Signals.FullScanDays, "full_scan_days", "Enter a whole number of days, such as 7.", p)
	s.FirstSeenGraceHours = wholeNumber(f.Signals.FirstSeenGraceHours, "first_seen_grace_hours", "Enter a whole number of hours, such as 24.", p)
}

// wholeNumber reads a positive whole number; "" is 0 (not set).
func wholeNumber(raw, field, msg string, p map[string]string) int {
	if raw == "" {
		return 0
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		p[field] = msg
		return 0
	}
	return n
}

// signalsOf is the typed text of a stored spec's number fields.
func signalsOf(s posture.Spec) signalsRaw {
	num := func(n int) string {
		if n <= 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	return signalsRaw{SignatureMaxAgeDays: num(s.SignatureMaxAgeDays), FullScanDays: num(s.FullScanDays),
		FirstSeenGraceHours: num(s.FirstSeenGraceHours)}
}

// setSignals writes the signal fields back as the editor posts them.
func setSignals(v url.Values, f checkForm) {
	sp := f.Spec
	v["av_modes"], v["device_values"] = sp.AVModes, sp.DeviceValues
	if sp.SignatureUpToDate {
		v.Set("signature_up_to_date", "on")
	}
	for k, s := range map[string]string{"min_sensor_version": sp.MinSensorVersion,
		"signature_max_age_days": f.Signals.SignatureMaxAgeDays, "full_scan_days": f.Signals.FullScanDays,
		"first_seen_grace_hours": f.Signals.FirstSeenGraceHours} {
		if s != "" {
			v.Set(k, s)
		}
	}
}

// editorSignals is the editor's view of the signal fields.
func editorSignals(f checkForm) views.SignalsForm {
	return views.SignalsForm{AVModes: f.Spec.AVModes, SignatureUpToDate: f.Spec.SignatureUpToDate,
		SignatureMaxAgeDays: f.Signals.SignatureMaxAgeDays, FullScanDays: f.Signals.FullScanDays,
		MinSensorVersion: f.Spec.MinSensorVersion, DeviceValues: f.Spec.DeviceValues,
		FirstSeenGraceHours: f.Signals.FirstSeenGraceHours}
}
