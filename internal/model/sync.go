package model

import (
	"slices"
	"time"

	"postern/internal/audit"
)

// Sync run outcomes.
const (
	RunRunning     = "running"
	RunSuccess     = "success"
	RunFailed      = "failed"
	RunCancelled   = "cancelled"
	RunInterrupted = "interrupted"
	// RunHeld: the listing succeeded but would have marked too much of the
	// active fleet missing; nothing was applied (the mass-removal guard).
	RunHeld = "held"
)

// SyncRun is one run of the background sync.
type SyncRun struct {
	ID          int64
	Integration string
	Trigger     string
	// Replica names the replica that ran it ("" on a single Postern).
	Replica        string
	StartedAt      time.Time
	FinishedAt     *time.Time
	Outcome        string
	Pages          int
	Seen           int
	Added          int
	Changed        int
	Removed        int
	ThrottledWaits int
	Error          string
	ErrorCode      string
	Unreadable     int    // machines skipped because they could not be read
	Note           string // plain words about a run that still went ahead, such as Unreadable
	// Missing of Active: the active devices a listing did not return, when
	// the mass-removal guard looked at them (a held run, or one whose
	// removal was accepted automatically).
	Missing, Active int
	// AcceptedBy and AcceptedAt say who accepted the removal of a held run
	// (or of a run that repeated a held one), and when.
	AcceptedBy string
	AcceptedAt *time.Time
}

// Held reports whether the run is held and waits for an admin.
func (r SyncRun) Held() bool { return r.Outcome == RunHeld && r.AcceptedBy == "" }

// Removal is what the mass-removal guard decides on: how many active
// devices a listing did not return, of how many, and how many runs just
// before this one were held and not accepted.
type Removal struct {
	Missing, Active int
	HeldBefore      int
}

// RemovalVerdicts say what to do with a listing.
const (
	RemovalApply  = "apply"  // apply as usual: a missing device counts a miss
	RemovalHold   = "hold"   // apply nothing; record the run as held
	RemovalAccept = "accept" // apply, and mark the missing devices removed at once
)

// RemovalVerdict is the guard's decision; Note says it in plain words for
// the run's record (a held run), By names who accepts (RemovalAccept).
type RemovalVerdict struct {
	Verdict string
	Note    string
	By      string
}

// RunTotals are counters over every recorded run.
type RunTotals struct {
	ByOutcome      map[string]int
	ThrottledWaits int
}

// RunGuard is how a run is finished. Decide rules, inside the apply's
// transaction, on the active devices a successful listing did not return
// (nil applies every listing); Audit names the entries recording the
// finished run.
type RunGuard struct {
	Decide func(Removal) RemovalVerdict
	Audit  func(SyncRun) []audit.Entry
}

// SyncLeader is the replica elected to run the sync, as the database
// records its term (several replicas on PostgreSQL).
type SyncLeader struct {
	Replica   string
	Epoch     int64
	ElectedAt time.Time
}

// ReplicaKeys is what a replica last reported of its master keyring: key
// ids only, never key material.
type ReplicaKeys struct {
	Replica string
	Active  string   // the key id that seals new values there
	KeyIDs  []string // every key id it holds
	SeenAt  time.Time
}

// Holds reports whether the replica holds key id.
func (r ReplicaKeys) Holds(id string) bool { return slices.Contains(r.KeyIDs, id) }
