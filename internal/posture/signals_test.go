package posture

import (
	"strings"
	"testing"
	"time"

	"postern/internal/fleet"
)

// avDevice is goodDevice with a healthy antivirus report row and sensor.
func avDevice() fleet.Device {
	d := goodDevice()
	d.AgentVersion = "10.8760.26100.3037"
	d.DeviceValue = "Normal"
	d.FirstSeen = testNow.Add(-30 * 24 * time.Hour)
	d.AV = &fleet.AV{Mode: "0", SignatureUpToDate: "True", SignatureVersion: "1.419.263.0",
		SignaturePublishedAt: testNow.Add(-20 * time.Hour), FullScanAt: testNow.Add(-3 * 24 * time.Hour),
		RefreshedAt: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)}
	return d
}

const avAgeText = "(antivirus report of 2026-11-25T06:00:00Z) (Defender data from " + testAge + ")"

func TestSignalConditions(t *testing.T) {
	tests := []struct {
		name   string
		spec   Spec
		mutate func(*fleet.Device, *Input)
		want   Result
		reason []string
	}{
		{"mode active", Spec{AVModes: []string{"Active"}}, nil, Pass, nil},
		{"mode lower case", Spec{AVModes: []string{"active"}}, nil, Pass, nil},
		{"mode passive", Spec{AVModes: []string{"Active"}}, func(d *fleet.Device, _ *Input) { d.AV.Mode = "1" },
			Fail, []string{"antivirus mode Passive, required Active " + avAgeText}},
		{"mode EDR block allowed", Spec{AVModes: []string{"Active", "EDR block"}}, func(d *fleet.Device, _ *Input) { d.AV.Mode = "4" }, Pass, nil},
		{"mode empty is Other", Spec{AVModes: []string{"Active"}}, func(d *fleet.Device, _ *Input) { d.AV.Mode = "" },
			Fail, []string{"antivirus mode Other, required Active"}},
		{"mode unknown code kept", Spec{AVModes: []string{"Active"}}, func(d *fleet.Device, _ *Input) { d.AV.Mode = "9" },
			Fail, []string{"antivirus mode 9, required Active"}},
		{"mode not in report", Spec{AVModes: []string{"Active"}}, func(d *fleet.Device, _ *Input) { d.AV = nil },
			Unknown, []string{"antivirus mode unknown: Defender's antivirus health report does not list this device, required Active (Defender data from " + testAge + ")"}},
		{"mode report failed", Spec{AVModes: []string{"Active"}}, func(_ *fleet.Device, in *Input) {
			in.AVUnknown = "the last sync could not read the antivirus health report (403 Forbidden: no access)"
		}, Unknown, []string{"antivirus mode unknown: the last sync could not read the antivirus health report (403 Forbidden: no access), required Active"}},
		{"mode empty set fails closed", Spec{AVModes: []string{" "}}, nil, Fail, []string{"check misconfigured"}},

		{"signature up to date", Spec{SignatureUpToDate: true}, nil, Pass, nil},
		{"signature out of date", Spec{SignatureUpToDate: true}, func(d *fleet.Device, _ *Input) {
			d.AV.SignatureUpToDate = "False"
			d.AV.SignaturePublishedAt = testNow.Add(-9 * 24 * time.Hour)
		}, Fail, []string{"security intelligence 1.419.263.0 out of date, published 9 days ago, required up to date " + avAgeText}},
		{"signature Unknown", Spec{SignatureUpToDate: true}, func(d *fleet.Device, _ *Input) { d.AV.SignatureUpToDate = "Unknown" },
			Unknown, []string{"security intelligence up-to-date state Unknown, required up to date"}},
		{"signature within max age", Spec{SignatureMaxAgeDays: 3}, func(d *fleet.Device, _ *Input) { d.AV.SignatureUpToDate = "False" }, Pass, nil},
		{"signature too old", Spec{SignatureMaxAgeDays: 3}, func(d *fleet.Device, _ *Input) {
			d.AV.SignaturePublishedAt = testNow.Add(-100 * time.Hour)
		}, Fail, []string{"security intelligence 1.419.263.0 published 5 days ago, required at most 3 days old"}},
		{"signature age without time", Spec{SignatureMaxAgeDays: 3}, func(d *fleet.Device, _ *Input) { d.AV.SignaturePublishedAt = time.Time{} },
			Unknown, []string{"has no publish time, required at most 3 days old"}},

		{"full scan recent", Spec{FullScanDays: 7}, nil, Pass, nil},
		{"full scan old", Spec{FullScanDays: 7}, func(d *fleet.Device, _ *Input) { d.AV.FullScanAt = testNow.Add(-10 * 24 * time.Hour) },
			Fail, []string{"last full scan 10 days ago, required within 7 days " + avAgeText}},
		{"full scan never", Spec{FullScanDays: 7}, func(d *fleet.Device, _ *Input) { d.AV.FullScanAt = time.Time{} },
			Fail, []string{"no full scan reported, required within 7 days"}},
		{"full scan stale data", Spec{FullScanDays: 7}, func(_ *fleet.Device, in *Input) { in.Stale = true },
			Unknown, []string{"Microsoft Defender data is stale"}},

		{"sensor newer", Spec{MinSensorVersion: "10.8760.26100.1"}, nil, Pass, nil},
		{"sensor equal", Spec{MinSensorVersion: "10.8760.26100.3037"}, nil, Pass, nil},
		{"sensor older", Spec{MinSensorVersion: "10.8760.26100.4000"}, nil,
			Fail, []string{"sensor version 10.8760.26100.3037, required at least 10.8760.26100.4000 (Defender data from " + testAge + ")"}},
		{"sensor not reported", Spec{MinSensorVersion: "10.8760"}, func(d *fleet.Device, _ *Input) { d.AgentVersion = "" },
			Unknown, []string{"sensor version not reported, required at least 10.8760"}},
		{"sensor setting invalid fails closed", Spec{MinSensorVersion: "ten"}, nil, Fail, []string{"check misconfigured"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := avDevice()
			in := inputFor(&d)
			if tt.mutate != nil {
				tt.mutate(&d, &in)
			}
			conds := tt.spec.Conditions(SourceDefender)
			if len(conds) != 1 {
				t.Fatalf("got %d conditions, want 1", len(conds))
			}
			checkOutcome(t, conds[0].Evaluate(&in), tt.want, tt.reason)
		})
	}
}

func TestDeviceValueScopesTheCheck(t *testing.T) {
	checks := Compile([]Check{{ID: 1, Name: "High value", Source: SourceDefender, Enabled: true,
		Spec: Spec{DeviceValues: []string{"High"}, AVModes: []string{"Active"}}}})
	for _, tc := range []struct {
		value string
		want  Result
	}{{"High", Fail}, {"high", Fail}, {"Normal", Pass}, {"Low", Pass}, {"", Fail}} {
		d := avDevice()
		d.AV.Mode = "1"
		d.DeviceValue = tc.value
		dec := Evaluate(checks, nil, inputFor(&d), Match{Device: &d})
		if got := dec.Checks[0].Result; got != tc.want {
			t.Errorf("device value %q: %s %q, want %s", tc.value, got, dec.Checks[0].Reasons, tc.want)
		}
		if j := Judge(&checks[0], nil, inputFor(&d), Match{Device: &d}); j.Result != tc.want {
			t.Errorf("device value %q: Judge %s, want %s", tc.value, j.Result, tc.want)
		}
	}
}

func TestFirstSeenGrace(t *testing.T) {
	checks := Compile([]Check{{ID: 1, Name: "AV", Source: SourceDefender, Enabled: true,
		Spec: Spec{FirstSeenGraceHours: 24, AVModes: []string{"Active"}}}})
	d := avDevice()
	d.AV = nil // its first report has not arrived
	d.FirstSeen = testNow.Add(-5*time.Hour - 10*time.Minute)
	dec := Evaluate(checks, nil, inputFor(&d), Match{Device: &d})
	c := dec.Checks[0]
	if c.Result != Pass || !dec.Allowed {
		t.Fatalf("new device: %s %q, want pass within the grace", c.Result, c.Reasons)
	}
	joined := strings.Join(c.Reasons, " | ")
	for _, want := range []string{"antivirus mode unknown", "new device: first seen 5 hours ago, allowed for 24 hours while its first report arrives (until 2026-11-26T04:55:40Z)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("reasons %q lack %q", joined, want)
		}
	}
	d.FirstSeen = testNow.Add(-25 * time.Hour)
	if dec := Evaluate(checks, nil, inputFor(&d), Match{Device: &d}); dec.Checks[0].Result != Unknown {
		t.Errorf("device first seen 25 hours ago: %s, want unknown (the grace is over)", dec.Checks[0].Result)
	}
	d.FirstSeen = time.Time{}
	if dec := Evaluate(checks, nil, inputFor(&d), Match{Device: &d}); dec.Checks[0].Result != Unknown {
		t.Errorf("device without firstSeen: %s, want unknown", dec.Checks[0].Result)
	}
}

func TestValidateSignals(t *testing.T) {
	for _, tc := range []struct {
		spec  Spec
		field string
	}{
		{Spec{AVModes: []string{"Sleeping"}}, "av_modes"},
		{Spec{SignatureMaxAgeDays: -1}, "signature_max_age_days"},
		{Spec{FullScanDays: 400}, "full_scan_days"},
		{Spec{MinSensorVersion: "abc"}, "min_sensor_version"},
		{Spec{HealthActive: true, DeviceValues: []string{"Huge"}}, "device_values"},
		{Spec{HealthActive: true, FirstSeenGraceHours: 10000}, "first_seen_grace_hours"},
		{Spec{DeviceValues: []string{"High"}}, "conditions"},
	} {
		errs := tc.spec.Validate(SourceDefender)
		if errs[tc.field] == "" {
			t.Errorf("Validate(%+v) = %v, want an error on %s", tc.spec, errs, tc.field)
		}
	}
	ok := Spec{AVModes: []string{"Active"}, SignatureUpToDate: true, FullScanDays: 7, MinSensorVersion: "10.8760",
		DeviceValues: []string{"High"}, FirstSeenGraceHours: 24}
	if errs := ok.Validate(SourceDefender); errs != nil {
		t.Errorf("Validate(%+v) = %v, want nil", ok, errs)
	}
	if errs := ok.Validate(SourceDeviceReport); errs["av_modes"] == "" || errs["device_values"] == "" {
		t.Errorf("signal conditions on a Device report check: %v, want them refused", errs)
	}
}
