package syncer

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"time"

	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/model"
)

// ToDevice maps a Defender machine to its stored form, as a sync does; tests
// that seed the store use it too, so their rows are what a sync writes. Raw
// is the machine re-encoded, so its hash changes exactly when a field
// Postern knows does.
func ToDevice(m defender.Machine) (model.Device, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return model.Device{}, err
	}
	sum := sha256.Sum256(raw)
	d := model.Device{
		ID: m.ID, Host: m.ComputerDNSName, OSPlatform: m.OSPlatform, OSVersion: m.OSVersion, OSBuild: m.OSBuild,
		HealthStatus: m.HealthStatus, RiskScore: m.RiskScore, ExposureLevel: m.ExposureLevel,
		OnboardingStatus: m.OnboardingStatus, AVStatus: m.DefenderAVStatus, IsAADJoined: m.IsAADJoined,
		MergedInto: m.MergedIntoMachineID, PotentialDuplicate: m.IsPotentialDuplication,
		LastIP: m.LastIPAddress, Tags: m.MachineTags, Raw: raw, ContentHash: sum[:],
		AgentVersion: m.AgentVersion, DeviceValue: m.DeviceValue,
	}
	if m.AADDeviceID != nil && *m.AADDeviceID != "" {
		id := strings.ToLower(*m.AADDeviceID)
		d.AADDeviceID = &id
	}
	d.FirstSeen = timePtr(m.FirstSeen)
	d.LastSeen = timePtr(m.LastSeen)
	return d, nil
}

func timePtr(t *defender.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// toFleet maps a stored device to its snapshot form.
func toFleet(d model.Device) fleet.Device {
	f := fleet.Device{
		ID: d.ID, Host: d.Host, OSPlatform: d.OSPlatform, HealthStatus: d.HealthStatus,
		OnboardingStatus: d.OnboardingStatus, IsAADJoined: d.IsAADJoined, PotentialDuplicate: d.PotentialDuplicate,
		Removed: d.RemovedAt != nil,
	}
	if len(d.Tags) > 0 { // nil for none, whether read back or received
		f.Tags = d.Tags
	}
	f.AADDeviceID = deref(d.AADDeviceID)
	f.OSVersion = deref(d.OSVersion)
	f.RiskScore = deref(d.RiskScore)
	f.ExposureLevel = deref(d.ExposureLevel)
	f.AVStatus = deref(d.AVStatus)
	f.MergedInto = deref(d.MergedInto)
	f.AgentVersion = deref(d.AgentVersion)
	f.DeviceValue = deref(d.DeviceValue)
	if d.FirstSeen != nil {
		f.FirstSeen = *d.FirstSeen
	}
	if d.OSBuild != nil {
		f.OSBuild = *d.OSBuild
	}
	if d.LastSeen != nil {
		f.LastSeen = *d.LastSeen
	}
	return f
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
