package model

import (
	"time"

	"postern/internal/audit"
)

// PostureCheck is a stored check; Spec is its conditions as JSON.
type PostureCheck struct {
	ID              int64
	Name            string
	Description     string
	DataSource      string
	Mode            string
	Enabled         bool
	WhenUnavailable string
	Spec            string
	CreatedAt       time.Time
	CreatedBy       string
	UpdatedAt       time.Time
	UpdatedBy       string
}

// Exception is a stored posture exception.
type Exception struct {
	ID        int64
	DeviceID  string
	CheckID   int64 // 0 = every check
	Reason    string
	ExpiresAt time.Time
	CreatedBy string
	CreatedAt time.Time
	RevokedAt *time.Time
	RevokedBy string
}

// ExceptionFilter narrows Exceptions; zero fields do not filter.
type ExceptionFilter struct {
	DeviceID string
	CheckID  int64
	// ActiveAt, when set, keeps exceptions neither revoked nor expired then.
	ActiveAt time.Time
}

// ExceptionListing is an exception as the Exceptions page lists it, with
// the names it refers to.
type ExceptionListing struct {
	Exception
	Host      string // the device's host name; "" when no device has its id
	CheckName string // "" for an exception to every check
}

// HistoryEntry is one change of a device's verdict.
type HistoryEntry struct {
	ID        int64
	DeviceID  string
	CheckID   int64 // 0 = the overall verdict
	CheckName string
	At        time.Time
	From, To  string
	Reasons   []string
	Signal    string
	Cause     Cause // read back with the entry; Kind "" for entries older than causes
}

// Cause is why verdicts changed: one admin action, one sync run, or time
// passing. Each cause that changed a verdict is recorded once, with the
// history rows it caused and one summary entry in the audit log.
type Cause struct {
	ID    int64
	Kind  string // one of the Cause* kinds
	Ref   string // what Kind points at: the run id, check id, device id or integration name
	Label string // in words, e.g. "Posture check “Low risk” created by alice@example.com"
	Actor string // who caused it; Postern's own actor for a sync or time
	At    time.Time
}

// Cause kinds. A new kind needs a link and a filter label in the web layer.
const (
	CauseSyncRun             = "sync_run"
	CauseDeviceRechecked     = "device_rechecked"
	CauseCheckCreated        = "check_created"
	CauseCheckUpdated        = "check_updated"
	CauseCheckDeleted        = "check_deleted"
	CauseExceptionCreated    = "exception_created"
	CauseExceptionExpired    = "exception_expired"
	CauseExceptionRevoked    = "exception_revoked"
	CauseIntegrationEnabled  = "integration_enabled"
	CauseIntegrationDisabled = "integration_disabled"
	CauseDataStale           = "data_stale"
	CauseOutageGraceEnded    = "outage_grace_ended"
	CauseReevaluated         = "reevaluated" // time alone: last seen, first-seen grace
	// CauseWhileStopped: a change found at start against the verdicts last
	// recorded, whose cause Postern could not tell (it was stopped).
	CauseWhileStopped = "while_stopped"
)

// CauseKinds lists every kind, in the order filters offer them.
var CauseKinds = []string{CauseSyncRun, CauseDeviceRechecked, CauseCheckCreated, CauseCheckUpdated, CauseCheckDeleted,
	CauseExceptionCreated, CauseExceptionExpired, CauseExceptionRevoked, CauseIntegrationEnabled,
	CauseIntegrationDisabled, CauseDataStale, CauseOutageGraceEnded, CauseReevaluated, CauseWhileStopped}

// CauseKindLabels names each kind as filters show it.
var CauseKindLabels = map[string]string{
	CauseSyncRun: "Sync run", CauseDeviceRechecked: "Device re-checked", CauseCheckCreated: "Check created",
	CauseCheckUpdated: "Check edited", CauseCheckDeleted: "Check deleted", CauseExceptionCreated: "Exception added",
	CauseExceptionExpired: "Exception expired", CauseExceptionRevoked: "Exception revoked",
	CauseIntegrationEnabled: "Integration enabled", CauseIntegrationDisabled: "Integration disabled",
	CauseDataStale: "Data became stale", CauseOutageGraceEnded: "Outage grace ended", CauseReevaluated: "Time passed",
	CauseWhileStopped: "While Postern was stopped",
}

// CauseChanges are the verdict changes of one cause, with the summary entry
// of the audit log that goes with them.
type CauseChanges struct {
	Cause   Cause
	Entries []HistoryEntry
	Summary audit.Entry
}

// VerdictBaseline is every device's verdicts as last recorded: the policy
// engine compares its first pass after a start with it, so that a change
// made while Postern was stopped, or whose recompute a crash cut short, is
// recorded (and sent) once. Data is the engine's own encoding.
type VerdictBaseline struct {
	At    time.Time
	RunID int64
	Stale bool
	Data  []byte
}

// PendingCause is a cause named by its owner (a check saved, an exception
// added, the integration disabled) whose changes are not recorded yet.
type PendingCause struct {
	ID       int64
	Cause    Cause
	CheckID  int64
	DeviceID string
}

// HistoryFilter narrows HistoryPage; zero fields do not filter.
type HistoryFilter struct {
	DeviceID  string
	CheckID   *int64 // 0 = the overall verdict only
	From, To  string // results, e.g. "pass" → "fail"
	CauseKind string
	CauseID   int64
	Limit     int
	Offset    int
}
