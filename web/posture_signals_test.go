package web

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"postern/internal/emulator"
	"postern/internal/posture"
)

func TestCheckFormSignals(t *testing.T) {
	v := url.Values{"name": {"AV"}, "source": {"defender"}, "av_modes": {"Active", "EDR block"},
		"signature_up_to_date": {"on"}, "signature_max_age_days": {" 3 "}, "full_scan_days": {"7"},
		"min_sensor_version": {" 10.8760.26100.3037 "}, "device_values": {"High"}, "first_seen_grace_hours": {"24"}}
	f, problems := parseCheckForm(v)
	if len(problems) != 0 {
		t.Fatalf("problems %v", problems)
	}
	want := posture.Spec{AVModes: []string{"Active", "EDR block"}, SignatureUpToDate: true, SignatureMaxAgeDays: 3,
		FullScanDays: 7, MinSensorVersion: "10.8760.26100.3037", DeviceValues: []string{"High"}, FirstSeenGraceHours: 24}
	if !reflect.DeepEqual(f.Spec, want) {
		t.Errorf("spec %+v, want %+v", f.Spec, want)
	}
	// What the confirmation step posts back reads as the same form.
	again, problems := parseCheckForm(formValues(f))
	if len(problems) != 0 || !reflect.DeepEqual(again.Spec, f.Spec) || again.Signals != f.Signals {
		t.Errorf("round trip: %+v %+v (%v), want %+v %+v", again.Spec, again.Signals, problems, f.Spec, f.Signals)
	}

	bad := url.Values{"name": {"AV"}, "source": {"defender"}, "av_modes": {"Sleeping"}, "full_scan_days": {"abc"},
		"signature_max_age_days": {"-2"}, "min_sensor_version": {"ten"}, "device_values": {"Huge"}, "first_seen_grace_hours": {"0"}}
	f, problems = parseCheckForm(bad)
	for _, field := range []string{"av_modes", "full_scan_days", "signature_max_age_days", "min_sensor_version", "device_values", "first_seen_grace_hours"} {
		if problems[field] == "" {
			t.Errorf("no problem reported for %s: %v", field, problems)
		}
	}
	if f.Signals.FullScanDays != "abc" {
		t.Errorf("the typed text %q is not kept for the form", f.Signals.FullScanDays)
	}
	scopeOnly := url.Values{"name": {"AV"}, "source": {"defender"}, "device_values": {"High"}}
	if _, problems := parseCheckForm(scopeOnly); problems["conditions"] == "" {
		t.Errorf("a check with only Device value is accepted: %v", problems)
	}
}

func TestAntivirusModeCheckPreviewAndDevicePage(t *testing.T) {
	d, c := connected(t)
	// The editor offers the new conditions.
	ed := c.get("/zero-trust/posture-checks/new?source=defender&name=x")
	for _, want := range []string{"Antivirus mode", "Security intelligence must be up to date", "Full scan within",
		"Sensor version at least", "Device value", "New devices: allow for"} {
		if !strings.Contains(ed.body, want) {
			t.Errorf("editor lacks %q", want)
		}
	}
	// One machine is Passive: the preview denies it and says why.
	var passive string
	for _, r := range d.emu.AVRows() {
		if r.AVMode == "0" {
			passive = r.MachineID
			break
		}
	}
	d.emu.SetAVOverride(passive, func(r *emulator.AVRow) { r.AVMode = "1" })
	run := d.waitRunAfter(t, 0)
	c.post("/settings/integrations/defender/sync", url.Values{})
	d.waitRunAfter(t, run.ID)

	form := url.Values{"name": {"AV active"}, "source": {"defender"}, "av_modes": {"Active"},
		"mode": {"enforce"}, "when_unavailable": {"deny"}, "enabled": {"on"}}
	prev := c.post("/zero-trust/posture-checks/preview", form)
	wantStatus(t, prev, http.StatusOK)
	if got := impactOf(t, prev.body); got["denied"] == 0 {
		t.Errorf("impact %v: the Passive device is not denied", got)
	}
	if !strings.Contains(prev.body, "antivirus mode Passive, required Active") {
		t.Errorf("preview lacks the reason:\n%.2000s", prev.body)
	}

	page := c.get(deviceURL(passive))
	wantStatus(t, page, http.StatusOK)
	panel := text(dom(t, page.body).Find(`section[aria-labelledby="antivirus"]`))
	for _, want := range []string{"Antivirus health", "Antivirus mode", "Passive", "Security intelligence", "Engine", "Platform", "Last full scan"} {
		if !strings.Contains(panel, want) {
			t.Errorf("antivirus panel lacks %q:\n%s", want, panel)
		}
	}

	// The report fails: the run succeeds, the panel says why AV is unknown.
	last := d.worker.Status().LastRun.ID
	d.emu.SetFaults(emulator.Faults{AVInfoStatus: http.StatusForbidden})
	c.post("/settings/integrations/defender/sync", url.Values{})
	if run := d.waitRunAfter(t, last); run.Outcome != "success" {
		t.Fatalf("run with the report failing: %s %s", run.Outcome, run.Error)
	}
	panel = text(dom(t, c.get(deviceURL(passive)).body).Find(`section[aria-labelledby="antivirus"]`))
	if !strings.Contains(panel, "The last sync could not read the antivirus health report (403") || !strings.Contains(panel, "What to do") {
		t.Errorf("panel after a failed report:\n%s", panel)
	}
	prev = c.post("/zero-trust/posture-checks/preview", form)
	if !strings.Contains(prev.body, "antivirus mode unknown: the last sync could not read the antivirus health report") {
		t.Errorf("preview after a failed report lacks the unknown reason:\n%.2000s", prev.body)
	}
}
