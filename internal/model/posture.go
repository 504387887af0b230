package model

import "time"

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
}
