// Package fleet is the in-memory, immutable snapshot of synced devices that
// the enforcement API reads. Each successful sync builds a new Snapshot and
// swaps it in atomically; readers never lock and never see half a sync.
package fleet

import (
	"strings"
	"sync/atomic"
	"time"

	"postern/internal/defender/vocab"
)

// Device holds the posture signals of one Defender machine.
type Device struct {
	ID                 string
	Host               string // as received
	AADDeviceID        string // lower case; "" when Defender has none
	OSPlatform         string
	OSVersion          string
	OSBuild            int64 // 0 when unknown
	HealthStatus       string
	RiskScore          string // "" when null
	ExposureLevel      string
	OnboardingStatus   string
	AVStatus           string
	IsAADJoined        bool
	MergedInto         string
	PotentialDuplicate bool
	// IsExcluded: an admin excluded the machine in Defender, which then
	// stops updating its exposure level; ExclusionReason is Defender's.
	IsExcluded      bool
	ExclusionReason string
	RBACGroup       string    // rbacGroupName, the device group; "" when unassigned
	LastSeen        time.Time // zero when unknown
	Tags            []string
	Removed         bool
	AgentVersion    string    // Defender sensor version; "" when unknown
	DeviceValue     string    // High, Normal or Low; "" when unknown
	FirstSeen       time.Time // zero when unknown
	// AV is the machine's antivirus health; nil when the report does not
	// list it, or when the sync could not read the report (the snapshot's
	// AVUnknown then says why).
	AV *AV
}

// AV is the part of Defender's antivirus health report the posture
// conditions judge.
type AV struct {
	Mode                 string // avMode: "0" Active, "1" Passive, "2" Disabled, "3" Other, "4" EDR block, "5" PassiveAudit
	SignatureUpToDate    string // "True", "False", "Unknown" or ""
	SignatureVersion     string
	SignaturePublishedAt time.Time // zero when unknown
	FullScanAt           time.Time // zero when never
	RefreshedAt          time.Time // when Defender last refreshed the row
}

// Snapshot is an immutable view of the fleet at the end of one sync.
type Snapshot struct {
	// SyncedAt is when the sync that produced it finished; zero before the
	// first successful sync.
	SyncedAt time.Time
	RunID    int64
	Devices  []Device
	// Active counts the devices not marked removed.
	Active int
	// Discovered counts the active devices found by Defender's device
	// discovery and not protected by it (vocab.IsDiscovered).
	Discovered int
	// AVUnknown, when set, is why this snapshot holds no antivirus health:
	// the sync could not read Defender's report.
	AVUnknown string

	byID   map[string]int
	byAAD  map[string][]int
	byHost map[string][]int // full name and first label, lower case
}

// NewSnapshot indexes devices. It takes ownership of the slice.
func NewSnapshot(devices []Device, syncedAt time.Time, runID int64) *Snapshot {
	s := &Snapshot{SyncedAt: syncedAt, RunID: runID, Devices: devices,
		byID: make(map[string]int, len(devices)), byAAD: make(map[string][]int, len(devices)),
		byHost: make(map[string][]int, 2*len(devices))}
	// Most names and Entra ids belong to one device: their lists are
	// windows of one array of positions (capped, so that a second device
	// appends to a copy), not an allocation each.
	at := make([]int, len(devices))
	add := func(m map[string][]int, k string, i int) {
		if l, ok := m[k]; ok {
			m[k] = append(l, i)
		} else {
			m[k] = at[i : i+1 : i+1]
		}
	}
	for i, d := range devices {
		at[i] = i
		if !d.Removed {
			s.Active++
			if vocab.IsDiscovered(d.OnboardingStatus) {
				s.Discovered++
			}
		}
		s.byID[d.ID] = i
		if d.AADDeviceID != "" {
			add(s.byAAD, d.AADDeviceID, i)
		}
		full, label := hostKeys(d.Host)
		if full != "" {
			add(s.byHost, full, i)
		}
		if label != "" {
			add(s.byHost, label, i)
		}
	}
	return s
}

// hostKeys are the names a device answers to: its full name ("" for
// none) and, for an FQDN, its first label (else ""), both lower case.
func hostKeys(host string) (full, label string) {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "."))
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h, h[:i]
	}
	return h, ""
}

// Len is the number of devices, removed ones included.
func (s *Snapshot) Len() int { return len(s.Devices) }

// ByID returns the device with Defender id id.
func (s *Snapshot) ByID(id string) (*Device, bool) {
	i, ok := s.byID[strings.ToLower(strings.TrimSpace(id))]
	if !ok {
		return nil, false
	}
	return &s.Devices[i], true
}

// Index returns the position of the device with Defender id id in Devices.
func (s *Snapshot) Index(id string) (int, bool) {
	i, ok := s.byID[id]
	return i, ok
}

// ByAAD returns the devices with Entra device id id.
func (s *Snapshot) ByAAD(id string) Devices {
	return Devices{s, s.byAAD[strings.ToLower(strings.TrimSpace(id))]}
}

// ByHost returns the devices named host (case-insensitive, FQDN or its
// first label).
func (s *Snapshot) ByHost(host string) Devices {
	full, label := hostKeys(host)
	if full == "" {
		return Devices{}
	}
	idx := s.byHost[full]
	if len(idx) == 0 && label != "" {
		idx = s.byHost[label]
	}
	return Devices{s, idx}
}

// Devices are some of a snapshot's devices, viewed where they are: the
// enforcement API looks devices up on every request, and a view costs no
// allocation.
type Devices struct {
	s   *Snapshot
	idx []int // positions in s.Devices
}

// Len is the number of devices.
func (d Devices) Len() int { return len(d.idx) }

// At is the i-th device.
func (d Devices) At(i int) *Device { return &d.s.Devices[d.idx[i]] }

// Holder publishes the current snapshot. The zero value holds an empty one.
type Holder struct {
	p atomic.Pointer[Snapshot]
}

var empty = NewSnapshot(nil, time.Time{}, 0)

// Load returns the current snapshot; never nil.
func (h *Holder) Load() *Snapshot {
	if s := h.p.Load(); s != nil {
		return s
	}
	return empty
}

// Store swaps in a new snapshot.
func (h *Holder) Store(s *Snapshot) { h.p.Store(s) }

// Loaded reports whether a snapshot was stored: until then Load returns an
// empty fleet that would deny every device.
func (h *Holder) Loaded() bool { return h.p.Load() != nil }
