package model

import "time"

// Sync run outcomes.
const (
	RunRunning     = "running"
	RunSuccess     = "success"
	RunFailed      = "failed"
	RunCancelled   = "cancelled"
	RunInterrupted = "interrupted"
)

// SyncRun is one run of the background sync.
type SyncRun struct {
	ID             int64
	Integration    string
	Trigger        string
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
}

// RunTotals are counters over every recorded run.
type RunTotals struct {
	ByOutcome      map[string]int
	ThrottledWaits int
}
