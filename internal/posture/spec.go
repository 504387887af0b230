package posture

// Spec is how a check's conditions are stored (JSON) and edited. Zero
// fields do not apply, so adding a condition type never changes the
// meaning of stored checks.
type Spec struct {
	// Microsoft Defender conditions.

	// HealthActive requires health status Active.
	HealthActive bool `json:"health_active,omitempty"`
	// MaxRisk caps the risk score: None < Informational < Low < Medium < High.
	MaxRisk string `json:"max_risk,omitempty"`
	// MaxExposure caps the exposure level: None < Low < Medium < High.
	MaxExposure string `json:"max_exposure,omitempty"`
	// RequireOnboarded requires onboarding status Onboarded.
	RequireOnboarded bool `json:"require_onboarded,omitempty"`
	// AVStatuses is the allowed Antivirus statuses (Updated, NotUpdated,
	// Disabled, NotReporting, NotSupported, Unknown).
	AVStatuses []string `json:"av_statuses,omitempty"`
	// LastSeenHours requires lastSeen within N hours (at least 24).
	LastSeenHours int `json:"last_seen_hours,omitempty"`
	// OSPlatforms is the allowed osPlatform values (an open set).
	OSPlatforms []string `json:"os_platforms,omitempty"`
	// MinOSBuild is the minimum osBuild per platform, e.g. {"Windows11": 22631}.
	MinOSBuild    map[string]int64 `json:"min_os_build,omitempty"`
	RequiredTags  []string         `json:"required_tags,omitempty"`
	ForbiddenTags []string         `json:"forbidden_tags,omitempty"`
	// RequireEntraJoined requires isAadJoined.
	RequireEntraJoined bool `json:"require_entra_joined,omitempty"`

	// Richer Defender signals (signals.go). AVModes is the allowed
	// antivirus modes of the antivirus health report: Active, Passive,
	// EDR block, Passive audit, Disabled, Other.
	AVModes []string `json:"av_modes,omitempty"`
	// SignatureUpToDate requires security intelligence up to date by the
	// report; SignatureMaxAgeDays instead accepts it up to N days old.
	SignatureUpToDate   bool `json:"signature_up_to_date,omitempty"`
	SignatureMaxAgeDays int  `json:"signature_max_age_days,omitempty"`
	// FullScanDays requires a full scan within N days.
	FullScanDays int `json:"full_scan_days,omitempty"`
	// MinSensorVersion is the minimum agentVersion, a dotted number.
	MinSensorVersion string `json:"min_sensor_version,omitempty"`
	// DeviceValues scopes the check: it applies only to devices of these
	// values (High, Normal, Low) and passes the others.
	DeviceValues []string `json:"device_values,omitempty"`
	// FirstSeenGraceHours lets devices first seen less than N hours ago
	// pass while their first report arrives, with a reason.
	FirstSeenGraceHours int `json:"first_seen_grace_hours,omitempty"`

	// Device report conditions: attributes the gateway sends, for devices
	// Defender does not cover.

	// ReportOS is the allowed OS names: Windows, macOS, Linux, iOS, Android.
	ReportOS []string `json:"report_os,omitempty"`
	// ReportMinOSVersion is a dotted number compared numerically: "10.0.22631".
	ReportMinOSVersion string `json:"report_min_os_version,omitempty"`
	// ReportFirewall requires the firewall on.
	ReportFirewall bool `json:"report_firewall,omitempty"`
	// ReportDiskEncrypted requires disk encryption on.
	ReportDiskEncrypted bool `json:"report_disk_encrypted,omitempty"`
	// ReportMinClientVersion is a semver-ish version: "1.4.2".
	ReportMinClientVersion string `json:"report_min_client_version,omitempty"`
}

// Conditions compiles the conditions of source in a fixed order (the
// order of the editor), so reasons come out in the same order every time.
// Conditions of the other source are ignored; Validate reports them.
// Settings that cannot be evaluated become conditions that fail.
func (s Spec) Conditions(source string) []Condition {
	var cs []Condition
	switch source {
	case SourceDefender:
		if s.HealthActive {
			cs = append(cs, healthActive{})
		}
		if s.MaxRisk != "" {
			cs = append(cs, newMaxRisk(s.MaxRisk))
		}
		if s.MaxExposure != "" {
			cs = append(cs, newMaxExposure(s.MaxExposure))
		}
		if s.RequireOnboarded {
			cs = append(cs, onboarded{})
		}
		if len(s.AVStatuses) > 0 {
			cs = append(cs, newAVStatus(s.AVStatuses))
		}
		if s.LastSeenHours != 0 {
			cs = append(cs, newLastSeen(s.LastSeenHours))
		}
		if len(s.OSPlatforms) > 0 {
			cs = append(cs, newOSPlatform(s.OSPlatforms))
		}
		if len(s.MinOSBuild) > 0 {
			cs = append(cs, newMinOSBuild(s.MinOSBuild))
		}
		if len(s.RequiredTags) > 0 {
			cs = append(cs, newRequiredTags(s.RequiredTags))
		}
		if len(s.ForbiddenTags) > 0 {
			cs = append(cs, newForbiddenTags(s.ForbiddenTags))
		}
		if s.RequireEntraJoined {
			cs = append(cs, entraJoined{})
		}
		cs = s.appendSignalConditions(cs)
	case SourceDeviceReport:
		if len(s.ReportOS) > 0 {
			cs = append(cs, newReportOS(s.ReportOS))
		}
		if s.ReportMinOSVersion != "" {
			cs = append(cs, newMinOSVersion(s.ReportMinOSVersion))
		}
		if s.ReportFirewall {
			cs = append(cs, newReportFirewall())
		}
		if s.ReportDiskEncrypted {
			cs = append(cs, newReportDiskEncrypted())
		}
		if s.ReportMinClientVersion != "" {
			cs = append(cs, newMinClientVersion(s.ReportMinClientVersion))
		}
	}
	return cs
}

// defenderFields and reportFields name, by JSON key, the conditions that
// are set, in editor order.
func (s Spec) defenderFields() []string {
	var f []string
	add := func(set bool, name string) {
		if set {
			f = append(f, name)
		}
	}
	add(s.HealthActive, "health_active")
	add(s.MaxRisk != "", "max_risk")
	add(s.MaxExposure != "", "max_exposure")
	add(s.RequireOnboarded, "require_onboarded")
	add(len(s.AVStatuses) > 0, "av_statuses")
	add(s.LastSeenHours != 0, "last_seen_hours")
	add(len(s.OSPlatforms) > 0, "os_platforms")
	add(len(s.MinOSBuild) > 0, "min_os_build")
	add(len(s.RequiredTags) > 0, "required_tags")
	add(len(s.ForbiddenTags) > 0, "forbidden_tags")
	add(s.RequireEntraJoined, "require_entra_joined")
	return append(f, s.signalFields()...)
}

func (s Spec) reportFields() []string {
	var f []string
	add := func(set bool, name string) {
		if set {
			f = append(f, name)
		}
	}
	add(len(s.ReportOS) > 0, "report_os")
	add(s.ReportMinOSVersion != "", "report_min_os_version")
	add(s.ReportFirewall, "report_firewall")
	add(s.ReportDiskEncrypted, "report_disk_encrypted")
	add(s.ReportMinClientVersion != "", "report_min_client_version")
	return f
}
