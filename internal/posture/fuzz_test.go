package posture

import (
	"encoding/json"
	"testing"
	"time"

	"postern/internal/fleet"
)

// FuzzSpecValidate: whatever JSON is stored, validating, compiling and
// evaluating it never panics, and an invalid-looking spec never makes a
// check with no conditions.
func FuzzSpecValidate(f *testing.F) {
	f.Add([]byte(`{"health_active":true,"max_risk":"Medium","last_seen_hours":24}`))
	f.Add([]byte(`{"max_risk":"Severe","max_exposure":"x","av_statuses":["", "Updated"],"last_seen_hours":-9223372036854775808}`))
	f.Add([]byte(`{"min_os_build":{"":-1,"Windows11":9223372036854775807},"required_tags":[""],"forbidden_tags":["a","A"]}`))
	f.Add([]byte(`{"report_os":["darwin"],"report_min_os_version":"1..2","report_min_client_version":"v1.2.3-rc..1+","report_firewall":true}`))
	f.Add([]byte(`{"report_min_os_version":"99999999999999999999.1","report_min_client_version":"1.2.3-0.a.01"}`))
	f.Add([]byte(`{}`))
	good := goodDevice()
	odd := fleet.Device{ID: "x", RiskScore: "ÿ", ExposureLevel: "high", OSPlatform: "windows11", OSBuild: -5, LastSeen: time.Unix(1, 0), Tags: []string{""}}
	devices := []*fleet.Device{nil, &good, &odd}
	reports := []Report{{}, goodReport(), {OS: "\xff", OSVersion: "1.2.3.4.5.6.7.8.9", ClientVersion: "v-1", Firewall: boolp(false)}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Spec
		if json.Unmarshal(data, &s) != nil {
			return
		}
		for _, src := range []string{SourceDefender, SourceDeviceReport, "bogus"} {
			_ = s.Validate(src)
			for _, c := range s.Conditions(src) {
				if c.Name() == "" {
					t.Fatalf("condition without a name")
				}
			}
			checks := Compile([]Check{{ID: 1, Source: src, Enabled: true, Spec: s}, {ID: 2, Source: src, Enabled: true, Mode: ModeMonitor, WhenUnavailable: UnavailableAllow, Spec: s}})
			for i, d := range devices {
				in := Input{Device: d, Report: reports[i], DataAge: testAge, Now: testNow, Stale: i == 2}
				dec := Evaluate(checks, []Exception{{DeviceID: "x", ExpiresAt: testNow.Add(time.Hour)}}, in, Match{Device: d})
				for _, c := range dec.Checks {
					if c.Result != Pass && len(c.Reasons) == 0 {
						t.Fatalf("source %s: got %s without a reason", src, c.Result)
					}
				}
			}
		}
	})
}
