// Package audit names what Postern records in its audit log (the entry,
// every action, the outcomes) and exports the log as CSV that spreadsheets
// cannot be tricked into executing.
package audit

import (
	"context"
	"time"

	"postern/internal/actor"
)

// Entry is one row of the append-only audit log. Detail is free text
// written by Postern itself and must never contain a secret.
type Entry struct {
	ID       int64
	At       time.Time
	Actor    string
	SourceIP string
	Action   string
	Target   string
	Outcome  string
	Detail   string
}

// Filter narrows the store's AuditEntries; nil fields do not filter.
type Filter struct {
	Action  *string // prefix match, e.g. "auth." or "auth.login"
	Actor   *string
	Outcome *string
	Limit   int
	Offset  int
}

// Outcomes of an audited action.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Actions recorded in the audit log, named once here and read everywhere.
const (
	AdminCreated       = "admin.created"
	AdminPasswordReset = "admin.password_reset"
	Login              = "auth.login"
	LoginRateLimited   = "auth.rate_limited"
	Logout             = "auth.logout"
	CSRFRejected       = "security.csrf_rejected"

	IntegrationConfigured = "integration.configured"
	IntegrationDisabled   = "integration.disabled"
	IntegrationEnabled    = "integration.enabled"
	IntegrationGraceSet   = "integration.outage_grace_set"
	KeyRotated            = "key.rotated"
	KeyRetired            = "key.retired"

	SyncRun         = "sync.run"
	SyncRequested   = "sync.requested"
	DeviceRechecked = "device.rechecked"

	CheckCreated     = "posture_check.created"
	CheckUpdated     = "posture_check.updated"
	CheckDeleted     = "posture_check.deleted"
	ExceptionCreated = "exception.created"
	ExceptionRevoked = "exception.revoked"
	VerdictChanged   = "posture.verdict_changed"
	APITokenCreated  = "api_token.created"
	APITokenRevoked  = "api_token.revoked"
)

// Actions lists every action, for filters and tests.
var Actions = []string{
	AdminCreated, AdminPasswordReset, Login, LoginRateLimited, Logout, CSRFRejected,
	IntegrationConfigured, IntegrationDisabled, IntegrationEnabled, IntegrationGraceSet, KeyRotated, KeyRetired,
	SyncRun, SyncRequested, DeviceRechecked,
	CheckCreated, CheckUpdated, CheckDeleted, ExceptionCreated, ExceptionRevoked, VerdictChanged,
	APITokenCreated, APITokenRevoked,
}

// By starts a successful entry of action on target by the actor ctx
// carries (Anonymous when none), from the actor's address.
func By(ctx context.Context, action, target string) Entry {
	e := Entry{Actor: actor.Name(ctx), Action: action, Target: target, Outcome: Success}
	if a, ok := actor.From(ctx); ok {
		e.SourceIP = a.IP
	}
	return e
}

// As starts a successful entry of action on target by a.
func As(a actor.Actor, action, target string) Entry {
	return Entry{Actor: a.Email, SourceIP: a.IP, Action: action, Target: target, Outcome: Success}
}
