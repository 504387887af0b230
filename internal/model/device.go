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
	FirstSeen          *time.Time
	LastSeen           *time.Time
	LastIP             *string
	Tags               []string
	AgentVersion       *string // Defender sensor version
	DeviceValue        *string // High, Normal or Low
	Raw                []byte
	ContentHash        []byte

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
	// Within, when set, keeps only the devices in it: the console's
	// Verdict filter, with the devices the policy engine's last pass gave
	// that verdict.
	Within DeviceSet
	Sort   string // host, last_seen, risk, exposure, health, platform
	Desc   bool
	Limit  int
	Offset int
}

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
