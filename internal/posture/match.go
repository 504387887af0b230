package posture

import (
	"strings"

	"postern/internal/defender/vocab"
	"postern/internal/fleet"
)

// Keys a device can be matched by, strongest first (docs/design.md#matching).
const (
	MatchedByDefenderID = "defender_machine_id"
	MatchedByAADID      = "aad_device_id"
	MatchedByHostname   = "hostname"
	// MatchedByNone is matched_by when no machine matched.
	MatchedByNone = "none"
)

// MatchedByLabel names a key for people, in the device page's words for the
// same identifiers; "" for MatchedByNone and anything else.
func MatchedByLabel(by string) string {
	switch by {
	case MatchedByDefenderID:
		return "Defender device ID"
	case MatchedByAADID:
		return "Entra device ID"
	case MatchedByHostname:
		return "Host name"
	}
	return ""
}

// Request identifies the device the gateway asks about.
type Request struct {
	DefenderMachineID, AADDeviceID, Hostname string
	Report                                   Report
}

// Match is the Defender machine a request resolved to, and by which key.
type Match struct {
	Device    *fleet.Device // nil when nothing matched
	MatchedBy string        // one of the MatchedBy constants, "" when nothing matched
}

// maxMergeHops bounds following mergedIntoMachineId (a cycle in bad data
// must not loop).
const maxMergeHops = 4

// MatchDevice finds the Defender machine for r: by Defender machine id,
// then Entra device id, then host name (case-insensitive, FQDN or its
// first label). A key that is supplied but matches nothing, or matches
// only removed machines, does not stop the weaker keys being tried;
// removed machines are the last resort, from the strongest key that
// found one. Among several machines (a reinstall gets a new id; device
// discovery adds records that share names) it takes the live one: not
// merged, then Onboarded and not excluded, then the latest lastSeen
// (docs/design.md#matching). A machine merged into another resolves to
// the survivor.
func MatchDevice(snap *fleet.Snapshot, r Request) Match {
	if snap == nil {
		return Match{}
	}
	var fallback Match
	consider := func(d *fleet.Device, by string) bool {
		if d == nil {
			return false
		}
		d = followMerge(snap, d)
		if !d.Removed {
			fallback = Match{Device: d, MatchedBy: by}
			return true
		}
		if fallback.Device == nil {
			fallback = Match{Device: d, MatchedBy: by}
		}
		return false
	}
	if id := strings.TrimSpace(r.DefenderMachineID); id != "" {
		if d, ok := snap.ByID(id); ok && consider(d, MatchedByDefenderID) {
			return fallback
		}
	}
	if id := strings.TrimSpace(r.AADDeviceID); id != "" {
		if consider(best(snap.ByAAD(id)), MatchedByAADID) {
			return fallback
		}
	}
	if h := strings.TrimSpace(r.Hostname); h != "" {
		if consider(best(snap.ByHost(h)), MatchedByHostname) {
			return fallback
		}
	}
	return fallback
}

// best picks among machines sharing a key: live over removed, not merged
// over merged, Onboarded and not excluded over the rest (a discovered
// CanBeOnboarded record shares the name of the protected one; an old
// record stays Active for days after a reinstall), latest lastSeen, not
// flagged as a potential duplicate, then the smallest id so the answer is
// deterministic.
func best(ds fleet.Devices) *fleet.Device {
	var b *fleet.Device
	for i := range ds.Len() {
		d := ds.At(i)
		if b == nil || preferred(d, b) {
			b = d
		}
	}
	return b
}

func preferred(a, b *fleet.Device) bool {
	if a.Removed != b.Removed {
		return !a.Removed
	}
	if am, bm := a.MergedInto == "", b.MergedInto == ""; am != bm {
		return am
	}
	if ao, bo := protected(a), protected(b); ao != bo {
		return ao
	}
	if !a.LastSeen.Equal(b.LastSeen) {
		return a.LastSeen.After(b.LastSeen)
	}
	if a.PotentialDuplicate != b.PotentialDuplicate {
		return !a.PotentialDuplicate
	}
	return a.ID < b.ID
}

// followMerge resolves a machine Defender merged into another to the
// surviving record, when that record is in the snapshot and live.
func followMerge(snap *fleet.Snapshot, d *fleet.Device) *fleet.Device {
	for range maxMergeHops {
		if d.MergedInto == "" || strings.EqualFold(d.MergedInto, d.ID) {
			return d
		}
		t, ok := snap.ByID(d.MergedInto)
		if !ok || t.Removed {
			return d
		}
		d = t
	}
	return d
}

// protected reports whether Defender protects d: Onboarded and not
// excluded by an admin.
func protected(d *fleet.Device) bool {
	return !d.IsExcluded && strings.EqualFold(d.OnboardingStatus, vocab.Onboarded)
}
