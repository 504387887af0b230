package posture

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestSpecValidate(t *testing.T) {
	tags := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("tag-%d", i)
		}
		return s
	}
	tests := []struct {
		name   string
		source string
		spec   Spec
		want   map[string]string // field → substring of the message
	}{
		{"valid defender", SourceDefender, Spec{HealthActive: true, MaxRisk: "Medium", MaxExposure: "low",
			AVStatuses: []string{"Updated", "notupdated"}, LastSeenHours: 48, OSPlatforms: []string{"Windows11"},
			MinOSBuild: map[string]int64{"Windows11": 22631, "Windows10": 0}, RequiredTags: tags(50), ForbiddenTags: []string{"quarantine"},
			RequireEntraJoined: true, RequireOnboarded: true}, nil},
		{"valid report", SourceDeviceReport, Spec{ReportOS: []string{"windows", "macOS", "darwin"}, ReportMinOSVersion: "10.0.22631",
			ReportFirewall: true, ReportDiskEncrypted: true, ReportMinClientVersion: "v1.4.2-rc.1+build.7"}, nil},
		{"empty defender", SourceDefender, Spec{}, map[string]string{"conditions": "Choose at least one condition"}},
		{"empty report", SourceDeviceReport, Spec{}, map[string]string{"conditions": "Choose at least one condition"}},
		{"unknown source", "intune", Spec{HealthActive: true}, map[string]string{"source": "Choose a data source"}},
		{"unknown source and empty", "", Spec{}, map[string]string{"source": "data source", "conditions": "at least one"}},
		{"unknown risk", SourceDefender, Spec{MaxRisk: "Severe"}, map[string]string{"max_risk": "None, Informational, Low, Medium, High"}},
		{"unknown exposure", SourceDefender, Spec{MaxExposure: "Informational"}, map[string]string{"max_exposure": "None, Low, Medium, High"}},
		{"unknown av status", SourceDefender, Spec{AVStatuses: []string{"Updated", "Snoozed"}}, map[string]string{"av_statuses": `"Snoozed"`}},
		{"last seen under 48", SourceDefender, Spec{LastSeenHours: 47}, map[string]string{"last_seen_hours": "at least 48 hours: Defender's lastSeen is the device's last full report"}},
		{"device group empty name", SourceDefender, Spec{DeviceGroups: []string{"ok", " "}}, map[string]string{"device_groups": "Device groups must not be empty"}},
		{"last seen negative", SourceDefender, Spec{LastSeenHours: -1}, map[string]string{"last_seen_hours": "at least 48"}},
		{"last seen huge", SourceDefender, Spec{LastSeenHours: 1 << 40}, map[string]string{"last_seen_hours": "at most"}},
		{"negative build", SourceDefender, Spec{MinOSBuild: map[string]int64{"Windows11": -1}}, map[string]string{"min_os_build": "negative"}},
		{"build without platform", SourceDefender, Spec{MinOSBuild: map[string]int64{" ": 1}}, map[string]string{"min_os_build": "Name the platform"}},
		{"build for a platform without builds", SourceDefender, Spec{MinOSBuild: map[string]int64{"macOS": 14}}, map[string]string{"min_os_build": "only for Windows"}},
		{"build platform twice", SourceDefender, Spec{MinOSBuild: map[string]int64{"Windows11": 1, "windows11": 2}}, map[string]string{"min_os_build": "twice"}},
		{"empty platform", SourceDefender, Spec{OSPlatforms: []string{""}}, map[string]string{"os_platforms": "must not be empty"}},
		{"too many tags", SourceDefender, Spec{RequiredTags: tags(51)}, map[string]string{"required_tags": "At most 50 tags"}},
		{"tag too long", SourceDefender, Spec{ForbiddenTags: []string{strings.Repeat("é", 129)}}, map[string]string{"forbidden_tags": "at most 128 characters"}},
		{"tag 128 runes ok", SourceDefender, Spec{ForbiddenTags: []string{strings.Repeat("é", 128)}}, nil},
		{"empty tag", SourceDefender, Spec{RequiredTags: []string{"a", " "}}, map[string]string{"required_tags": "must not be empty"}},
		{"tag required and forbidden", SourceDefender, Spec{RequiredTags: []string{"VPN"}, ForbiddenTags: []string{"vpn"}}, map[string]string{"forbidden_tags": "also required"}},
		{"unknown report os", SourceDeviceReport, Spec{ReportOS: []string{"Windows", "BeOS"}}, map[string]string{"report_os": `"BeOS"`}},
		{"malformed os version", SourceDeviceReport, Spec{ReportMinOSVersion: "10.0.x"}, map[string]string{"report_min_os_version": "dotted number"}},
		{"os version with v", SourceDeviceReport, Spec{ReportMinOSVersion: "v10"}, map[string]string{"report_min_os_version": "dotted number"}},
		{"os version too many parts", SourceDeviceReport, Spec{ReportMinOSVersion: "1.2.3.4.5.6.7"}, map[string]string{"report_min_os_version": "dotted number"}},
		{"malformed client version", SourceDeviceReport, Spec{ReportMinClientVersion: "1.4.2-"}, map[string]string{"report_min_client_version": "such as 1.4.2"}},
		{"report conditions on a defender check", SourceDefender, Spec{HealthActive: true, ReportFirewall: true, ReportOS: []string{"BeOS"}},
			map[string]string{"report_firewall": "do not apply to a Microsoft Defender check", "report_os": "do not apply"}},
		{"defender conditions on a report check", SourceDeviceReport, Spec{ReportFirewall: true, MaxRisk: "Low", RequiredTags: []string{"x"}},
			map[string]string{"max_risk": "do not apply to a Device report check", "required_tags": "do not apply"}},
		{"only the other source's conditions", SourceDeviceReport, Spec{HealthActive: true},
			map[string]string{"conditions": "Choose at least one condition", "health_active": "do not apply"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.spec.Validate(tt.source)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want fields %v", got, tt.want)
			}
			for f, sub := range tt.want {
				if !strings.Contains(got[f], sub) {
					t.Errorf("field %s: got %q, want it to contain %q", f, got[f], sub)
				}
			}
		})
	}
}

func TestSpecJSONRoundTrip(t *testing.T) {
	specs := []Spec{
		{},
		{HealthActive: true, MaxRisk: "Medium", MaxExposure: "Low", RequireOnboarded: true, AVStatuses: []string{"Updated"},
			LastSeenHours: 48, OSPlatforms: []string{"Windows11", "macOS"}, MinOSBuild: map[string]int64{"Windows11": 22631},
			RequiredTags: []string{"vpn"}, ForbiddenTags: []string{"quarantine"}, RequireEntraJoined: true},
		{ReportOS: []string{"Linux"}, ReportMinOSVersion: "6.1", ReportFirewall: true, ReportDiskEncrypted: true, ReportMinClientVersion: "1.4.2"},
	}
	for _, s := range specs {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var got Spec
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("got %+v from %s, want %+v", got, b, s)
		}
	}
	// Stored keys are a contract with the database: pin them.
	b, _ := json.Marshal(Spec{MaxRisk: "Low", LastSeenHours: 24, MinOSBuild: map[string]int64{"Windows11": 1}, ReportMinClientVersion: "1"})
	want := `{"max_risk":"Low","last_seen_hours":24,"min_os_build":{"Windows11":1},"report_min_client_version":"1"}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	if b, _ := json.Marshal(Spec{}); string(b) != "{}" {
		t.Errorf("got %s, want {}", b)
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.4.2", "1.4.2", 0},
		{"1.4", "1.4.0", 0},
		{"1.10.0", "1.9.9", 1},
		{"v2", "1.99", 1},
		{"1.4.2-rc.1", "1.4.2", -1},
		{"1.4.2-alpha", "1.4.2-alpha.1", -1},
		{"1.4.2-alpha.1", "1.4.2-alpha.beta", -1},
		{"1.4.2-beta.2", "1.4.2-beta.11", -1},
		{"1.4.2-beta.11", "1.4.2-rc.1", -1},
		{"1.4.2-1", "1.4.2-01", 0},
		{"1.4.2+x", "1.4.2+y", 0},
	}
	for _, tt := range tests {
		a, okA := parseSemver(tt.a)
		b, okB := parseSemver(tt.b)
		if !okA || !okB {
			t.Fatalf("%s vs %s: parse failed", tt.a, tt.b)
		}
		if got := compareVersions(a, b); got != tt.want {
			t.Errorf("%s vs %s: got %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := compareVersions(b, a); got != -tt.want {
			t.Errorf("%s vs %s: got %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
	bad := []string{"", "v", "1.", ".1", "1..2", "1.2.3-", "1.2.3+", "1.2.3-a..b", "1.2.3 x", "1.2.3-é", "1234567890123456789", "1.2.3.4.5.6.7"}
	for _, s := range bad {
		if _, ok := parseSemver(s); ok {
			t.Errorf("parseSemver(%q): got ok, want an error", s)
		}
	}
	for _, s := range []string{"10.0.22631", "1", "0.0.0.0.0.1"} {
		if _, ok := parseDotted(s); !ok {
			t.Errorf("parseDotted(%q): got an error, want ok", s)
		}
	}
	for _, s := range []string{"10.0.x", "v10", " 10", "10.", ""} {
		if _, ok := parseDotted(s); ok {
			t.Errorf("parseDotted(%q): got ok, want an error", s)
		}
	}
}
