// Package audit names what Postern records in its audit log (the entry,
// every action, the outcomes) and exports the log as CSV that spreadsheets
// cannot be tricked into executing.
package audit

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
)

// Entry is one row of the append-only audit log. Detail is free text
// written by Postern itself and must never contain a secret.
type Entry struct {
	ID    int64
	At    time.Time
	Actor string
	// ActorRole is the actor's role when the entry was written (empty for
	// entries older than roles, and for anonymous clients).
	ActorRole actor.Role
	SourceIP  string
	Action    string
	Target    string
	Outcome   string
	Detail    string
}

// Filter narrows the store's AuditEntries; nil and zero fields do not
// filter.
type Filter struct {
	Action   *string // prefix match, e.g. "auth." or "auth.login"
	Category string  // one of Categories: its actions only
	Actor    *string
	Target   string    // part of the target, any case
	Since    time.Time // entries at or after
	Until    time.Time // entries before
	Outcome  *string
	Limit    int
	Offset   int
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
	AdminRoleChanged   = "admin.role_changed"
	AdminDisabled      = "admin.disabled"
	AdminEnabled       = "admin.enabled"
	AdminDeleted       = "admin.deleted"
	SessionsEnded      = "admin.sessions_ended"
	// MFAEnrolled: an admin completed two-factor enrolment (a valid code
	// of the new secret); MFADisabled: they turned it off themselves (with
	// a code or their password); MFAReset: an Owner, or the command line,
	// turned it off for another admin; MFARecoveryCodesMade: new recovery
	// codes replaced the old; MFARequired: an Owner turned the requirement
	// for every local account on or off.
	MFAEnrolled          = "admin.mfa_enrolled"
	MFADisabled          = "admin.mfa_disabled"
	MFAReset             = "admin.mfa_reset"
	MFARecoveryCodesMade = "admin.mfa_recovery_codes_made"
	MFARequired          = "settings.mfa_required"
	// PasskeyAdded and PasskeyRemoved: an admin added a passkey to their
	// own account, or removed one (confirmed with their password).
	PasskeyAdded   = "admin.passkey_added"
	PasskeyRemoved = "admin.passkey_removed"
	// RoleDenied: a signed-in admin asked for something their role does
	// not allow (a route, or a service's change).
	RoleDenied = "security.role_denied"
	Login      = "auth.login"
	// LoginPassword: the password of an admin with two-factor on was
	// right; the code is asked next (nothing is reachable until then).
	// LoginCode: a code at that step was refused. MFARecoveryCodeUsed: a
	// recovery code was used up to sign in.
	LoginPassword = "auth.login_password"
	LoginCode     = "auth.login_code"
	// LoginPasskey: a passkey at that step was refused (a wrong or
	// replayed answer, or a counter that went back).
	LoginPasskey        = "auth.login_passkey"
	MFARecoveryCodeUsed = "auth.recovery_code_used"
	LoginRateLimited    = "auth.rate_limited"
	Logout              = "auth.logout"
	CSRFRejected        = "security.csrf_rejected"

	IntegrationConfigured = "integration.configured"
	IntegrationDisabled   = "integration.disabled"
	IntegrationEnabled    = "integration.enabled"
	IntegrationGraceSet   = "integration.outage_grace_set"
	// CertificateGenerated: Postern made a key pair and certificate for the
	// app, to be uploaded in Entra; the credential in use is unchanged.
	CertificateGenerated = "integration.certificate_generated"
	KeyRotated           = "key.rotated"
	KeyRetired           = "key.retired"
	// KeyStaged: a new master key was added to the keyring file without
	// sealing anything, to be given to every replica before activation.
	KeyStaged = "key.staged"
	// KeyActivated: a staged key, held by every live replica, was made
	// the key that seals; the stored secrets' re-encryption is KeyRotated.
	KeyActivated = "key.activated"

	SyncRun       = "sync.run"
	SyncRequested = "sync.requested"
	// SyncRemovalAccepted: a held sync's removal was accepted, by an admin
	// or automatically after repeated runs agreed.
	SyncRemovalAccepted = "sync.removal_accepted"
	DeviceRechecked     = "device.rechecked"

	CheckCreated     = "posture_check.created"
	CheckUpdated     = "posture_check.updated"
	CheckDeleted     = "posture_check.deleted"
	ExceptionCreated = "exception.created"
	ExceptionRevoked = "exception.revoked"
	APITokenCreated  = "api_token.created"
	APITokenRevoked  = "api_token.revoked"

	WebhookCreated     = "webhook.created"
	WebhookRotated     = "webhook.secret_rotated"
	WebhookEnabled     = "webhook.enabled"
	WebhookDisabled    = "webhook.disabled"
	WebhookDeleted     = "webhook.deleted"
	WebhookRedelivered = "webhook.redelivered"

	// VerdictsChanged is the one summary of a cause's verdict changes
	// ("Posture check “Low risk” created by …: 6,583 devices changed
	// verdict"); each change is in the posture history.
	VerdictsChanged = "posture.verdicts_changed"
	// VerdictChanged is one device's change, as recorded before the
	// summaries: kept so that old entries keep their category and filter.
	VerdictChanged = "posture.verdict_changed"
	// Pruned records each retention pass that deleted old entries.
	Pruned = "retention.pruned"
	// SignInConfigured records a save of Settings → Sign-in (Sign in with
	// Microsoft); LocalSignInChanged turning password sign-in off or on.
	SignInConfigured   = "sign_in.configured"
	LocalSignInChanged = "sign_in.local_changed"
)

// Actions lists every action, for filters and tests.
var Actions = []string{
	AdminCreated, AdminPasswordReset, AdminRoleChanged, AdminDisabled, AdminEnabled, AdminDeleted, SessionsEnded, RoleDenied, Login, LoginRateLimited, Logout, CSRFRejected,
	MFAEnrolled, MFADisabled, MFAReset, MFARecoveryCodesMade, MFARequired, LoginPassword, LoginCode, MFARecoveryCodeUsed,
	PasskeyAdded, PasskeyRemoved, LoginPasskey,
	IntegrationConfigured, IntegrationDisabled, IntegrationEnabled, IntegrationGraceSet, CertificateGenerated, KeyRotated, KeyRetired, KeyStaged, KeyActivated,
	SyncRun, SyncRequested, SyncRemovalAccepted, DeviceRechecked,
	CheckCreated, CheckUpdated, CheckDeleted, ExceptionCreated, ExceptionRevoked,
	APITokenCreated, APITokenRevoked, VerdictsChanged, VerdictChanged, Pruned,
	WebhookCreated, WebhookRotated, WebhookEnabled, WebhookDisabled, WebhookDeleted, WebhookRedelivered,
	SignInConfigured, LocalSignInChanged,
}

// Categories of actions, as the audit log's filter offers them.
const (
	CategoryAdmin    = "admin"
	CategorySignIn   = "sign_in"
	CategorySecurity = "security"
	CategorySync     = "sync"
	CategoryPosture  = "posture"
	CategorySystem   = "system"
)

// Categories lists every category in the order the filter offers them,
// with its label.
var Categories = []struct{ Key, Label string }{
	{CategoryAdmin, "Admin actions"}, {CategorySignIn, "Sign-ins"}, {CategorySecurity, "Security refusals"},
	{CategorySync, "Syncs"}, {CategoryPosture, "Posture summaries"}, {CategorySystem, "Retention"},
}

// categoryOf names the category of every action that is not an admin
// action; anything else (every change an admin makes) is CategoryAdmin.
var categoryOf = map[string]string{
	Login: CategorySignIn, Logout: CategorySignIn,
	LoginPassword: CategorySignIn, LoginCode: CategorySignIn, LoginPasskey: CategorySignIn, MFARecoveryCodeUsed: CategorySignIn,
	LoginRateLimited: CategorySecurity, CSRFRejected: CategorySecurity, RoleDenied: CategorySecurity,
	SyncRun: CategorySync, SyncRequested: CategorySync,
	VerdictsChanged: CategoryPosture, VerdictChanged: CategoryPosture, Pruned: CategorySystem,
}

// CategoryOf returns the category of action.
func CategoryOf(action string) string {
	if c, ok := categoryOf[action]; ok {
		return c
	}
	return CategoryAdmin
}

// ActionsIn lists the actions of category, for the store's filter, and
// whether the list is instead the actions *not* in it: every action that
// is not named in another category is an admin action.
func ActionsIn(category string) (actions []string, except bool) {
	for a, c := range categoryOf {
		if (category == CategoryAdmin) != (c == category) {
			actions = append(actions, a)
		}
	}
	slices.Sort(actions)
	return actions, category == CategoryAdmin
}

// By starts a successful entry of action on target by the actor ctx
// carries (Anonymous when none), from the actor's address.
func By(ctx context.Context, action, target string) Entry {
	e := Entry{Actor: actor.Name(ctx), Action: action, Target: target, Outcome: Success}
	if a, ok := actor.From(ctx); ok {
		e.SourceIP, e.ActorRole = a.IP, a.Role
	}
	return e
}

// As starts a successful entry of action on target by a.
func As(a actor.Actor, action, target string) Entry {
	return Entry{Actor: a.Email, ActorRole: a.Role, SourceIP: a.IP, Action: action, Target: target, Outcome: Success}
}

// Allowed returns ctx's actor when its role allows what min guards
// (actor.AtLeast). A refusal is recorded as a denied entry of action on
// target before the Forbidden error is returned, so a service refuses a
// change the role does not allow in the audit log as well as to the caller.
func Allowed(ctx context.Context, st Appender, log *slog.Logger, min actor.Role, action, target string) (actor.Actor, error) {
	a, err := actor.AtLeast(ctx, min)
	if err != nil {
		return a, RecordRefusal(ctx, st, log, By(ctx, action, target), err)
	}
	return a, nil
}

// Refused turns e into the record of a refusal: Denied when err is
// Forbidden, else Failure. The detail is err's safe message or, for an
// input refused field by field, the fields' names ("refused: name,
// source"); never err.Error(), whose cause may hold anything. The target,
// which may be the refused input itself, is cut to MaxRefusedTarget
// characters of valid UTF-8.
func Refused(e Entry, err error) Entry {
	e.Target = strings.ToValidUTF8(e.Target, "�")
	if r := []rune(e.Target); len(r) > MaxRefusedTarget {
		e.Target = string(r[:MaxRefusedTarget]) + "…"
	}
	e.Outcome = Failure
	if apperr.Is(err, apperr.Forbidden) {
		e.Outcome = Denied
	}
	e.Detail = apperr.MessageOf(err)
	if fields := apperr.FieldsOf(err); len(fields) > 0 {
		e.Detail = "refused: " + strings.Join(apperr.FieldNames(fields), ", ")
	}
	return e
}

// MaxRefusedTarget is the longest target of a refused entry, in characters.
const MaxRefusedTarget = 100

// Appender records one entry on its own.
type Appender interface {
	AppendAudit(ctx context.Context, e Entry) error
}

// RecordRefusal appends Refused(e, err) to st and returns err. The
// refusal stands even when its row cannot be written: that is logged, and
// the caller still gets err.
func RecordRefusal(ctx context.Context, st Appender, log *slog.Logger, e Entry, err error) error {
	e = Refused(e, err)
	if aerr := st.AppendAudit(context.WithoutCancel(ctx), e); aerr != nil {
		log.ErrorContext(ctx, "append audit entry of a refusal", "action", e.Action, "target", e.Target, "err", aerr)
	}
	return err
}
