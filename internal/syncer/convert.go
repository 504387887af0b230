package syncer

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"time"

	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/model"
)

// ToDevice maps a Defender machine to its stored form, as a sync does; tests
// that seed the store use it too, so their rows are what a sync writes. Raw
// is the machine re-encoded, so its hash changes exactly when a field
// Postern knows does. (It is encoded as encoding/json would: stored hashes
// do not change with the encoder.)
func ToDevice(m defender.Machine) model.Device {
	var scratch []byte
	return toDevice(&m, &scratch)
}

// toDevice is ToDevice encoding m in scratch, kept for the next machine:
// raw is then a copy of exactly its size.
func toDevice(m *defender.Machine, scratch *[]byte) model.Device {
	*scratch = m.AppendJSON((*scratch)[:0])
	raw := bytes.Clone(*scratch)
	sum := sha256.Sum256(raw)
	d := model.Device{
		ID: m.ID, Host: m.ComputerDNSName, OSPlatform: m.OSPlatform, OSVersion: m.OSVersion, OSBuild: m.OSBuild.Ptr(),
		HealthStatus: m.HealthStatus, RiskScore: m.RiskScore, ExposureLevel: m.ExposureLevel,
		OnboardingStatus: m.OnboardingStatus, AVStatus: m.DefenderAVStatus, IsAADJoined: m.IsAADJoined,
		MergedInto: m.MergedIntoMachineID, PotentialDuplicate: m.IsPotentialDuplication,
		LastIP: m.LastIPAddress, Tags: m.MachineTags, Raw: raw, ContentHash: sum[:],
		AgentVersion: m.AgentVersion, DeviceValue: m.DeviceValue,
		IsExcluded: m.IsExcluded, ExclusionReason: nonEmpty(m.ExclusionReason), RBACGroup: nonEmpty(m.RBACGroupName),
	}
	if m.AADDeviceID != nil && *m.AADDeviceID != "" {
		id := strings.ToLower(*m.AADDeviceID)
		d.AADDeviceID = &id
	}
	d.FirstSeen = timePtr(m.FirstSeen)
	d.LastSeen = timePtr(m.LastSeen)
	return d
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
	f.IsExcluded, f.ExclusionReason, f.RBACGroup = d.IsExcluded, deref(d.ExclusionReason), deref(d.RBACGroup)
	if d.OSBuild != nil {
		f.OSBuild = *d.OSBuild
	}
	if d.LastSeen != nil {
		f.LastSeen = *d.LastSeen
	}
	return f
}

// nonEmpty keeps a string Defender sent, dropping an empty one (the same
// as null).
func nonEmpty(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// snapshotToFleet is the snapshot's device for d, as the store read it
// (without its antivirus health: the caller adds it).
func snapshotToFleet(d *model.SnapshotDevice) fleet.Device {
	return fleet.Device{
		ID: d.ID, Host: d.Host, AADDeviceID: d.AADDeviceID, OSPlatform: d.OSPlatform, OSVersion: d.OSVersion,
		OSBuild: d.OSBuild, HealthStatus: d.HealthStatus, RiskScore: d.RiskScore, ExposureLevel: d.ExposureLevel,
		OnboardingStatus: d.OnboardingStatus, AVStatus: d.AVStatus, IsAADJoined: d.IsAADJoined, MergedInto: d.MergedInto,
		PotentialDuplicate: d.PotentialDuplicate, IsExcluded: d.IsExcluded, ExclusionReason: d.ExclusionReason,
		RBACGroup: d.RBACGroup, LastSeen: d.LastSeen, Tags: d.Tags, Removed: d.Removed, AgentVersion: d.AgentVersion,
		DeviceValue: d.DeviceValue, FirstSeen: d.FirstSeen,
	}
}

// avToFleetAV is the snapshot's antivirus health for a.
func avToFleetAV(a *model.SnapshotAV) fleet.AV {
	return fleet.AV{Mode: a.Mode, SignatureUpToDate: a.SignatureUpToDate, SignatureVersion: a.SignatureVersion,
		SignaturePublishedAt: a.SignaturePublishedAt, FullScanAt: a.FullScanAt, RefreshedAt: a.RefreshedAt}
}
