package posture

import (
	"time"

	"postern/internal/fleet"
)

const testAge = "2026-11-25T10:02:11Z"

var testNow = time.Date(2026, 11, 25, 10, 5, 40, 0, time.UTC)

// goodDevice passes every Defender condition the tests use.
func goodDevice() fleet.Device {
	return fleet.Device{
		ID:               "4f0a2c9d6e1b3a5c7d9e8f0a1b2c3d4e5f6a7b8c",
		Host:             "laptop-ana.corp.example.com",
		AADDeviceID:      "6b1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
		OSPlatform:       "Windows11",
		OSBuild:          22631,
		HealthStatus:     "Active",
		RiskScore:        "Low",
		ExposureLevel:    "Medium",
		OnboardingStatus: "Onboarded",
		AVStatus:         "Updated",
		IsAADJoined:      true,
		LastSeen:         testNow.Add(-3 * time.Hour),
		Tags:             []string{"finance", "vpn-allowed"},
	}
}

func boolp(b bool) *bool { return &b }

// goodReport passes every device report condition the tests use.
func goodReport() Report {
	return Report{OS: "Windows", OSVersion: "10.0.22631", ClientVersion: "1.4.2",
		Firewall: boolp(true), DiskEncrypted: boolp(true)}
}

func inputFor(d *fleet.Device) Input {
	return Input{Device: d, Report: goodReport(), DataAge: testAge, Now: testNow}
}
