package model

import "time"

// Device is one synced Defender machine: the columns Postern filters and
// evaluates on, plus the whole machine as received (Raw).
type Device struct {
	ID                 string
	Host               string
	AADDeviceID        *string
	OSPlatform         string
	OSVersion          *string
	OSBuild            *int64
	HealthStatus       string
	RiskScore          *string
	ExposureLevel      *string
	OnboardingStatus   string
	AVStatus           *string
	IsAADJoined        bool
	MergedInto         *string
	PotentialDuplicate bool
	// IsExcluded: an admin excluded the machine in Defender (its exposure
	// level is no longer kept up to date); ExclusionReason says why.
	IsExcluded      bool
	ExclusionReason *string
	// RBACGroup is Defender's device group (rbacGroupName), set by the
	// tenant's admins; nil when unassigned.
	RBACGroup    *string
	FirstSeen    *time.Time
	LastSeen     *time.Time
	LastIP       *string
	Tags         []string
	AgentVersion *string // Defender sensor version
	DeviceValue  *string // High, Normal or Low
	Raw          []byte
	ContentHash  []byte

	// Provenance, set by the store.
	FirstSyncedAt time.Time
	ChangedAt     time.Time
	ChangedRunID  int64
	MissedRuns    int
	RemovedAt     *time.Time
}

// DeviceFilter narrows Devices; empty fields do not filter.
type DeviceFilter struct {
	Search     string // any part of the host name, or an exact Defender id or Entra device id
	Health     string
	Risk       string // a risk score, or "none" for no score
	Exposure   string
	Onboarding string
	Platform   string
	Tag        string
	Removed    string // "" active only, "only" removed only, "all"
	// Kind: "" any, DeviceKindProtected or DeviceKindDiscovered
	// (vocab.DiscoveredStatuses).
	Kind string
	// Within, when set, keeps only the devices in it: the console's
	// Verdict filter, with the devices the policy engine's last pass gave
	// that verdict.
	Within DeviceSet
	Sort   string // host, last_seen, risk, exposure, health, platform
	Desc   bool
	Limit  int
	Offset int
}

// Kinds of device for DeviceFilter.Kind: protected by Defender (any
// onboarding status but the discovered ones) or found by its device
// discovery.
const (
	DeviceKindProtected  = "protected"
	DeviceKindDiscovered = "discovered"
)

// DeviceSet is a set of active device ids its owner holds in memory (the
// policy engine's verdicts of its last pass): Has is called once per
// candidate device and must be cheap; Len is how many it holds.
type DeviceSet interface {
	Has(id string) bool
	Len() int
}

// DeviceFacets lists the distinct values the filters offer.
type DeviceFacets struct {
	Platforms []string
	Tags      []string
}

// SnapshotDevice is a device as the in-memory snapshot reads it
// (Store.EachSnapshotDevice): only what matching and the posture checks
// use, "" and zero for NULL, without the provenance and the raw machine.
type SnapshotDevice struct {
	ID, Host, AADDeviceID, OSPlatform, OSVersion string
	OSBuild                                      int64
	HealthStatus, RiskScore, ExposureLevel       string
	OnboardingStatus, AVStatus, MergedInto       string
	IsAADJoined, PotentialDuplicate, IsExcluded  bool
	ExclusionReason, RBACGroup                   string
	AgentVersion, DeviceValue                    string
	FirstSeen, LastSeen                          time.Time
	Removed                                      bool
	Tags                                         []string // nil for none; devices with the same tags may share the slice: read only
	AV                                           *SnapshotAV
}

// SnapshotAV is the part of a device's antivirus health row the snapshot
// holds; nil when the device has none.
type SnapshotAV struct {
	Mode, SignatureUpToDate, SignatureVersion     string
	SignaturePublishedAt, FullScanAt, RefreshedAt time.Time
}
