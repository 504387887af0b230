package posture

import (
	"strings"
	"testing"
	"time"

	"postern/internal/fleet"
)

// TestDefenderConditions drives every Defender condition through pass,
// fail and unknown, with null fields, case differences and values the
// docs do not list.
func TestDefenderConditions(t *testing.T) {
	tests := []struct {
		name   string
		spec   Spec
		mutate func(*fleet.Device)
		want   Result
		reason []string // substrings of the reason, in order
	}{
		{"health active", Spec{HealthActive: true}, nil, Pass, nil},
		{"health lower case", Spec{HealthActive: true}, func(d *fleet.Device) { d.HealthStatus = "active" }, Pass, nil},
		{"health inactive", Spec{HealthActive: true}, func(d *fleet.Device) { d.HealthStatus = "Inactive" },
			Fail, []string{"health status Inactive, required Active (Defender data from " + testAge + ")"}},
		{"health Unknown value is a fail", Spec{HealthActive: true}, func(d *fleet.Device) { d.HealthStatus = "Unknown" },
			Fail, []string{"health status Unknown, required Active"}},
		{"health null", Spec{HealthActive: true}, func(d *fleet.Device) { d.HealthStatus = "" },
			Unknown, []string{"health status not reported, required Active", testAge}},

		{"risk below max", Spec{MaxRisk: "Medium"}, nil, Pass, nil},
		{"risk equal max", Spec{MaxRisk: "Medium"}, func(d *fleet.Device) { d.RiskScore = "Medium" }, Pass, nil},
		{"risk limit with spaces", Spec{MaxRisk: " Medium "}, nil, Pass, nil},
		{"risk case differs", Spec{MaxRisk: "medium"}, func(d *fleet.Device) { d.RiskScore = "MEDIUM" }, Pass, nil},
		{"risk above max", Spec{MaxRisk: "Medium"}, func(d *fleet.Device) { d.RiskScore = "High" },
			Fail, []string{"risk score High exceeds the allowed Medium (Defender data from " + testAge + ")"}},
		{"risk above max canonical casing", Spec{MaxRisk: "low"}, func(d *fleet.Device) { d.RiskScore = "high" },
			Fail, []string{"risk score High exceeds the allowed Low"}},
		{"risk None is best", Spec{MaxRisk: "None"}, func(d *fleet.Device) { d.RiskScore = "None" }, Pass, nil},
		{"risk Informational above None", Spec{MaxRisk: "None"}, func(d *fleet.Device) { d.RiskScore = "Informational" },
			Fail, []string{"risk score Informational exceeds the allowed None"}},
		{"risk null", Spec{MaxRisk: "Medium"}, func(d *fleet.Device) { d.RiskScore = "" },
			Unknown, []string{"risk score not reported, allowed at most Medium", testAge}},
		{"risk unknown value", Spec{MaxRisk: "Medium"}, func(d *fleet.Device) { d.RiskScore = "Severe" },
			Unknown, []string{`risk score "Severe" is not a known level, allowed at most Medium`}},
		{"risk limit invalid fails closed", Spec{MaxRisk: "Severe"}, nil,
			Fail, []string{"check misconfigured", `"Severe"`}},

		{"exposure ok", Spec{MaxExposure: "Medium"}, nil, Pass, nil},
		{"exposure above", Spec{MaxExposure: "Low"}, nil,
			Fail, []string{"exposure level Medium exceeds the allowed Low", testAge}},
		{"exposure has no Informational", Spec{MaxExposure: "Low"}, func(d *fleet.Device) { d.ExposureLevel = "Informational" },
			Unknown, []string{`exposure level "Informational" is not a known level`}},
		{"exposure null", Spec{MaxExposure: "Low"}, func(d *fleet.Device) { d.ExposureLevel = "" },
			Unknown, []string{"exposure level not reported"}},
		{"exposure of an excluded machine is stale", Spec{MaxExposure: "High"},
			func(d *fleet.Device) { d.IsExcluded, d.ExclusionReason = true, "MachineOutOfScope" },
			Unknown, []string{"is excluded (MachineOutOfScope)", "exposure level Medium is no longer kept up to date", "allowed at most High", testAge}},
		{"device group in the set", Spec{DeviceGroups: []string{"Laptops-EU", "Servers"}}, func(d *fleet.Device) { d.RBACGroup = "laptops-eu" }, Pass, nil},
		{"device group outside the set", Spec{DeviceGroups: []string{"Laptops-EU", "Servers"}}, func(d *fleet.Device) { d.RBACGroup = "Kiosks" },
			Fail, []string{"device group Kiosks, required one of Laptops-EU, Servers", testAge}},
		{"device group unassigned", Spec{DeviceGroups: []string{"Laptops-EU"}}, nil,
			Unknown, []string{"device group not reported", "required Laptops-EU", testAge}},
		{"device group set empty fails closed", Spec{DeviceGroups: []string{" "}}, nil, Fail, []string{"check misconfigured: device group set is empty"}},
		{"excluded leaves other conditions alone", Spec{MaxRisk: "Medium"}, func(d *fleet.Device) { d.IsExcluded = true }, Pass, nil},

		{"onboarded", Spec{RequireOnboarded: true}, nil, Pass, nil},
		{"onboarded docs casing", Spec{RequireOnboarded: true}, func(d *fleet.Device) { d.OnboardingStatus = "onboarded" }, Pass, nil},
		{"can be onboarded", Spec{RequireOnboarded: true}, func(d *fleet.Device) { d.OnboardingStatus = "CanBeOnboarded" },
			Fail, []string{"onboarding status CanBeOnboarded, required Onboarded", testAge}},
		{"onboarding null", Spec{RequireOnboarded: true}, func(d *fleet.Device) { d.OnboardingStatus = "" },
			Unknown, []string{"onboarding status not reported"}},

		{"av in set", Spec{AVStatuses: []string{"Updated"}}, nil, Pass, nil},
		{"av case differs", Spec{AVStatuses: []string{"updated"}}, func(d *fleet.Device) { d.AVStatus = "UPDATED" }, Pass, nil},
		{"av not in set", Spec{AVStatuses: []string{"Updated", "NotReporting"}}, func(d *fleet.Device) { d.AVStatus = "notUpdated" },
			Fail, []string{"antivirus status NotUpdated, required one of Updated, NotReporting", testAge}},
		{"av single required", Spec{AVStatuses: []string{"Updated"}}, func(d *fleet.Device) { d.AVStatus = "Disabled" },
			Fail, []string{"antivirus status Disabled, required Updated ("}},
		{"av new value", Spec{AVStatuses: []string{"Updated"}}, func(d *fleet.Device) { d.AVStatus = "Snoozed" },
			Fail, []string{"antivirus status Snoozed, required Updated"}},
		{"av null", Spec{AVStatuses: []string{"Updated"}}, func(d *fleet.Device) { d.AVStatus = "" },
			Unknown, []string{"antivirus status not reported, required Updated"}},

		{"last seen within", Spec{LastSeenHours: 24}, nil, Pass, nil},
		{"last seen exactly at limit", Spec{LastSeenHours: 24}, func(d *fleet.Device) { d.LastSeen = testNow.Add(-24 * time.Hour) }, Pass, nil},
		{"last seen in the future", Spec{LastSeenHours: 24}, func(d *fleet.Device) { d.LastSeen = testNow.Add(time.Hour) }, Pass, nil},
		{"last seen too old", Spec{LastSeenHours: 24}, func(d *fleet.Device) { d.LastSeen = testNow.Add(-31 * time.Hour) },
			Fail, []string{"last seen 31 hours ago, required within 24 hours (Defender data from " + testAge + ")"}},
		{"last seen rounds up", Spec{LastSeenHours: 24}, func(d *fleet.Device) { d.LastSeen = testNow.Add(-24*time.Hour - time.Minute) },
			Fail, []string{"last seen 25 hours ago, required within 24 hours"}},
		{"last seen within 1 hour", Spec{LastSeenHours: 1}, func(d *fleet.Device) { d.LastSeen = testNow.Add(-90 * time.Minute) },
			Fail, []string{"last seen 2 hours ago, required within 1 hour ("}},
		{"last seen null", Spec{LastSeenHours: 24}, func(d *fleet.Device) { d.LastSeen = time.Time{} },
			Unknown, []string{"last seen not reported, required within 24 hours"}},
		{"last seen negative fails closed", Spec{LastSeenHours: -5}, nil, Fail, []string{"check misconfigured"}},

		{"platform in set", Spec{OSPlatforms: []string{"Windows10", "Windows11"}}, nil, Pass, nil},
		{"platform case differs", Spec{OSPlatforms: []string{"windows11"}}, nil, Pass, nil},
		{"platform not in set", Spec{OSPlatforms: []string{"Windows10", "Windows11"}}, func(d *fleet.Device) { d.OSPlatform = "Linux" },
			Fail, []string{"OS platform Linux, required one of Windows10, Windows11", testAge}},
		{"platform null", Spec{OSPlatforms: []string{"Windows11"}}, func(d *fleet.Device) { d.OSPlatform = "" },
			Unknown, []string{"OS platform not reported"}},

		{"build ok", Spec{MinOSBuild: map[string]int64{"Windows11": 22631}}, nil, Pass, nil},
		{"build platform case", Spec{MinOSBuild: map[string]int64{"WINDOWS11": 22631}}, nil, Pass, nil},
		{"build too old", Spec{MinOSBuild: map[string]int64{"Windows11": 26100, "Windows10": 19045}}, nil,
			Fail, []string{"OS build 22631 on Windows11, required at least 26100", testAge}},
		{"build other platform unconstrained", Spec{MinOSBuild: map[string]int64{"Windows10": 19045}}, func(d *fleet.Device) { d.OSPlatform = "macOS"; d.OSBuild = 0 }, Pass, nil},
		{"build null", Spec{MinOSBuild: map[string]int64{"Windows11": 22631}}, func(d *fleet.Device) { d.OSBuild = 0 },
			Unknown, []string{"OS build not reported for Windows11, required at least 22631"}},
		{"build platform null", Spec{MinOSBuild: map[string]int64{"Windows11": 22631}}, func(d *fleet.Device) { d.OSPlatform = "" },
			Unknown, []string{"OS platform not reported, needed for the minimum OS build"}},
		{"build platform with spaces", Spec{MinOSBuild: map[string]int64{" Windows11 ": 26100}}, nil,
			Fail, []string{"OS build 22631 on Windows11, required at least 26100"}},
		{"build empty platform fails closed", Spec{MinOSBuild: map[string]int64{"": 1}}, nil, Fail, []string{"check misconfigured"}},
		{"empty av set fails closed", Spec{AVStatuses: []string{" "}}, nil, Fail, []string{"check misconfigured"}},
		{"empty platform set fails closed", Spec{OSPlatforms: []string{""}}, nil, Fail, []string{"check misconfigured"}},
		{"empty tag set fails closed", Spec{ForbiddenTags: []string{""}}, nil, Fail, []string{"check misconfigured"}},
		{"build negative fails closed", Spec{MinOSBuild: map[string]int64{"Windows11": -1}}, nil, Fail, []string{"check misconfigured"}},

		{"required tags present", Spec{RequiredTags: []string{"VPN-Allowed", " finance "}}, nil, Pass, nil},
		{"required tag missing", Spec{RequiredTags: []string{"finance", "admin", "lab"}}, nil,
			Fail, []string{"tags [finance, vpn-allowed] lack the required admin, lab", testAge}},
		{"required tags none on device", Spec{RequiredTags: []string{"admin"}}, func(d *fleet.Device) { d.Tags = nil },
			Fail, []string{"tags (none) lack the required admin"}},
		{"forbidden tag absent", Spec{ForbiddenTags: []string{"quarantine"}}, nil, Pass, nil},
		{"forbidden tag present case differs", Spec{ForbiddenTags: []string{"quarantine"}}, func(d *fleet.Device) { d.Tags = []string{"Quarantine"} },
			Fail, []string{"tags [Quarantine] include the forbidden quarantine", testAge}},

		{"entra joined", Spec{RequireEntraJoined: true}, nil, Pass, nil},
		{"entra joined with null aad id", Spec{RequireEntraJoined: true}, func(d *fleet.Device) { d.AADDeviceID = "" }, Pass, nil},
		{"not entra joined", Spec{RequireEntraJoined: true}, func(d *fleet.Device) { d.IsAADJoined = false },
			Fail, []string{"not Entra joined, required Entra joined", testAge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := goodDevice()
			if tt.mutate != nil {
				tt.mutate(&d)
			}
			in := inputFor(&d)
			conds := tt.spec.Conditions(SourceDefender)
			if len(conds) != 1 {
				t.Fatalf("got %d conditions, want 1", len(conds))
			}
			got := conds[0].Evaluate(&in)
			checkOutcome(t, got, tt.want, tt.reason)
		})
	}
}

func checkOutcome(t *testing.T, got Outcome, want Result, reason []string) {
	t.Helper()
	if got.Result != want {
		t.Fatalf("got %s (%q), want %s", got.Result, got.Reason, want)
	}
	if want == Pass {
		if got.Reason != "" {
			t.Errorf("got reason %q on pass, want none", got.Reason)
		}
		return
	}
	rest := got.Reason
	for _, s := range reason {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Fatalf("got reason %q, want it to contain %q (in order)", got.Reason, s)
		}
		rest = rest[i+len(s):]
	}
}

// TestDefenderUnavailable: every Defender condition is unknown, with the
// cause as reason, when the data cannot be trusted or does not exist.
func TestDefenderUnavailable(t *testing.T) {
	all := Spec{HealthActive: true, MaxRisk: "High", MaxExposure: "High", RequireOnboarded: true,
		AVStatuses: avStatuses, LastSeenHours: 24, OSPlatforms: []string{"Windows11"},
		MinOSBuild: map[string]int64{"Windows11": 1}, RequiredTags: []string{"finance"},
		ForbiddenTags: []string{"quarantine"}, RequireEntraJoined: true, DeviceGroups: []string{"Laptops-EU"}}
	removed := goodDevice()
	removed.Removed = true
	good := goodDevice()
	tests := []struct {
		name  string
		in    Input
		want  string
		exact bool
	}{
		{"no machine", Input{DataAge: testAge, Now: testNow},
			"no Defender machine matches this device (Defender data from " + testAge + ")", true},
		{"stale", Input{Device: &good, Stale: true, DataAge: testAge, Now: testNow},
			"Microsoft Defender data is stale (last successful sync " + testAge + ")", true},
		{"never synced", Input{Stale: true, Now: testNow},
			"Microsoft Defender data is stale (no successful sync yet)", true},
		{"disabled beats stale", Input{Device: &good, Stale: true, SourceDisabled: true, DataAge: testAge, Now: testNow},
			"the Microsoft Defender data source is disabled", true},
		{"removed machine", Input{Device: &removed, DataAge: testAge, Now: testNow},
			"Defender machine " + removed.ID + " is no longer listed by Defender (removed)", false},
	}
	conds := all.Conditions(SourceDefender)
	if want := len(all.defenderFields()); len(conds) != want {
		t.Fatalf("got %d conditions, want %d", len(conds), want)
	}
	for _, tt := range tests {
		for _, c := range conds {
			got := c.Evaluate(&tt.in)
			if got.Result != Unknown || (tt.exact && got.Reason != tt.want) || !strings.Contains(got.Reason, tt.want) {
				t.Errorf("%s / %s: got %s %q, want unknown %q", tt.name, c.Name(), got.Result, got.Reason, tt.want)
			}
		}
	}
}

func TestReportConditions(t *testing.T) {
	tests := []struct {
		name   string
		spec   Spec
		mutate func(*Report)
		want   Result
		reason []string
	}{
		{"os in set", Spec{ReportOS: []string{"Windows", "macOS"}}, nil, Pass, nil},
		{"os case differs", Spec{ReportOS: []string{"windows"}}, func(r *Report) { r.OS = "WINDOWS" }, Pass, nil},
		{"os darwin is macOS", Spec{ReportOS: []string{"macOS"}}, func(r *Report) { r.OS = "darwin" }, Pass, nil},
		{"os not in set", Spec{ReportOS: []string{"Windows", "macOS"}}, func(r *Report) { r.OS = "linux" },
			Fail, []string{"device report: OS Linux, required one of Windows, macOS"}},
		{"os missing", Spec{ReportOS: []string{"Windows"}}, func(r *Report) { r.OS = "" },
			Unknown, []string{"device report: OS not reported, required Windows"}},

		{"os version equal", Spec{ReportMinOSVersion: "10.0.22631"}, nil, Pass, nil},
		{"os version numeric not lexical", Spec{ReportMinOSVersion: "10.0.9"}, nil, Pass, nil},
		{"os version more parts", Spec{ReportMinOSVersion: "10.0.22631"}, func(r *Report) { r.OSVersion = "10.0.22631.3296" }, Pass, nil},
		{"os version fewer parts equal", Spec{ReportMinOSVersion: "14.0.0"}, func(r *Report) { r.OSVersion = "14" }, Pass, nil},
		{"os version with suffix", Spec{ReportMinOSVersion: "6.1"}, func(r *Report) { r.OSVersion = "6.8.0-45-generic" }, Pass, nil},
		{"os version too old", Spec{ReportMinOSVersion: "10.0.22631"}, func(r *Report) { r.OSVersion = "10.0.19045" },
			Fail, []string{"device report: OS version 10.0.19045, required at least 10.0.22631"}},
		{"os version garbage", Spec{ReportMinOSVersion: "10.0"}, func(r *Report) { r.OSVersion = "Sonoma" },
			Unknown, []string{`device report: OS version "Sonoma" is not a dotted number, required at least 10.0`}},
		{"os version missing", Spec{ReportMinOSVersion: "10.0"}, func(r *Report) { r.OSVersion = " " },
			Unknown, []string{"device report: OS version not reported, required at least 10.0"}},
		{"os version spec malformed", Spec{ReportMinOSVersion: "10.x"}, nil, Fail, []string{"check misconfigured"}},

		{"firewall on", Spec{ReportFirewall: true}, nil, Pass, nil},
		{"firewall off", Spec{ReportFirewall: true}, func(r *Report) { r.Firewall = boolp(false) },
			Fail, []string{"device report: firewall off, required on"}},
		{"firewall missing", Spec{ReportFirewall: true}, func(r *Report) { r.Firewall = nil },
			Unknown, []string{"device report: firewall not reported, required on"}},
		{"disk encrypted", Spec{ReportDiskEncrypted: true}, nil, Pass, nil},
		{"disk not encrypted", Spec{ReportDiskEncrypted: true}, func(r *Report) { r.DiskEncrypted = boolp(false) },
			Fail, []string{"device report: disk encryption off, required on"}},
		{"disk missing", Spec{ReportDiskEncrypted: true}, func(r *Report) { r.DiskEncrypted = nil },
			Unknown, []string{"device report: disk encryption not reported"}},

		{"client equal", Spec{ReportMinClientVersion: "1.4.2"}, nil, Pass, nil},
		{"client newer minor", Spec{ReportMinClientVersion: "1.4.2"}, func(r *Report) { r.ClientVersion = "v1.10.0" }, Pass, nil},
		{"client build metadata ignored", Spec{ReportMinClientVersion: "1.4.2"}, func(r *Report) { r.ClientVersion = "1.4.2+abc" }, Pass, nil},
		{"client older", Spec{ReportMinClientVersion: "1.4.2"}, func(r *Report) { r.ClientVersion = "1.3.9" },
			Fail, []string{"device report: client version 1.3.9, required at least 1.4.2"}},
		{"client pre-release before release", Spec{ReportMinClientVersion: "1.4.2"}, func(r *Report) { r.ClientVersion = "1.4.2-rc.1" },
			Fail, []string{"client version 1.4.2-rc.1, required at least 1.4.2"}},
		{"client garbage", Spec{ReportMinClientVersion: "1.4.2"}, func(r *Report) { r.ClientVersion = "latest" },
			Unknown, []string{`client version "latest" is not a version`}},
		{"client missing", Spec{ReportMinClientVersion: "1.4.2"}, func(r *Report) { r.ClientVersion = "" },
			Unknown, []string{"client version not reported"}},
		{"long value clipped", Spec{ReportOS: []string{"Windows"}}, func(r *Report) { r.OS = strings.Repeat("x", 5000) },
			Fail, []string{"device report: OS xxxx", "…, required Windows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := goodReport()
			if tt.mutate != nil {
				tt.mutate(&r)
			}
			// Device report conditions ignore Defender's state entirely.
			in := Input{Report: r, Stale: true, SourceDisabled: true, Now: testNow}
			conds := tt.spec.Conditions(SourceDeviceReport)
			if len(conds) != 1 {
				t.Fatalf("got %d conditions, want 1", len(conds))
			}
			got := conds[0].Evaluate(&in)
			checkOutcome(t, got, tt.want, tt.reason)
			if len(got.Reason) > 300 {
				t.Errorf("got reason of %d bytes, want it clipped", len(got.Reason))
			}
		})
	}
}

// TestConditionNames pins the editor labels (docs/design.md#posture-checks) and the order.
func TestConditionNames(t *testing.T) {
	all := Spec{HealthActive: true, MaxRisk: "High", MaxExposure: "High", RequireOnboarded: true,
		AVStatuses: []string{"Updated"}, LastSeenHours: 24, OSPlatforms: []string{"Windows11"},
		MinOSBuild: map[string]int64{"Windows11": 1}, RequiredTags: []string{"a"}, ForbiddenTags: []string{"b"},
		RequireEntraJoined: true, DeviceGroups: []string{"g"}, ReportOS: []string{"Windows"}, ReportMinOSVersion: "1", ReportFirewall: true,
		ReportDiskEncrypted: true, ReportMinClientVersion: "1"}
	tests := []struct {
		source string
		want   []string
	}{
		{SourceDefender, []string{"Health status", "Maximum risk score", "Maximum exposure level", "Onboarding status",
			"Antivirus status", "Last seen within", "OS platform", "Minimum OS build", "Required tags", "Forbidden tags",
			"Must be Entra joined", "Device group"}},
		{SourceDeviceReport, []string{"OS", "Minimum OS version", "Firewall", "Disk encryption", "Minimum client version"}},
		{"other", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range all.Conditions(tt.source) {
			got = append(got, c.Name())
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: got %q, want %q", tt.source, got, tt.want)
		}
	}
}
