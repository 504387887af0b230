package model

import (
	"time"

	"postern/internal/actor"
)

// Admin is a console account. PasswordHash is an argon2id PHC string.
type Admin struct {
	ID                int64
	Email             string
	PasswordHash      string
	Role              actor.Role
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	// DisabledAt is when an Owner disabled the account; nil while it may
	// sign in.
	DisabledAt   *time.Time
	LastSignInAt *time.Time
	// EntraTenantID and EntraObjectID key an admin who signs in with
	// Microsoft (the token's tid and oid); empty for a local account.
	// SSOSignInAt is their last sign-in that way.
	EntraTenantID string
	EntraObjectID string
	SSOSignInAt   *time.Time
	// MFAEnabledAt is when the admin completed two-factor enrolment; nil
	// while they sign in with a password alone. The secret itself is never
	// part of Admin (store.AdminMFA reads it, sealed, for the check).
	MFAEnabledAt *time.Time
	// Passkeys counts the admin's passkeys (WebAuthn credentials), each a
	// second factor of its own.
	Passkeys int
}

// MFAEnabled reports whether a signs in with a second factor: an
// authenticator app's code, a passkey, or either.
func (a Admin) MFAEnabled() bool { return a.MFAEnabledAt != nil || a.Passkeys > 0 }

// TOTPEnabled reports whether a completed enrolment of an authenticator
// app (and so has recovery codes).
func (a Admin) TOTPEnabled() bool { return a.MFAEnabledAt != nil }

// AdminMFA is an admin's stored second factor, as the check needs it.
// Sealed is the TOTP secret sealed by internal/secret (never the
// plaintext); Enabled is false while enrolment is pending; LastStep is the
// last RFC 6238 time step a code was accepted for.
type AdminMFA struct {
	Sealed   string
	Enabled  bool
	LastStep int64
	// RecoveryLeft counts the recovery codes not used yet.
	RecoveryLeft int
}

// Enabled reports whether a may sign in.
func (a Admin) Enabled() bool { return a.DisabledAt == nil }

// Session is a server-side session row. IDHash is the SHA-256 of the cookie
// value; the value itself is never stored.
type Session struct {
	IDHash     []byte
	AdminID    int64 // 0 before sign-in
	Data       string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// APIToken is a stored enforcement API token; the token itself is never
// stored, only its hash.
type APIToken struct {
	ID         int64
	Name       string
	Prefix     string
	Hash       []byte
	CreatedAt  time.Time
	CreatedBy  string
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// IdentitySource is where forward-auth reads the device's identity:
	// IdentityHeaders or IdentityCertificate.
	IdentitySource string
	// Scopes are what the token may be used for, in TokenScopes' order
	// (docs/api.md#token-scopes).
	Scopes []string
	// ExpiresAt is when the token stops working; nil: never.
	ExpiresAt *time.Time
}

// The identity sources of an API token (docs/api.md#identity-sources).
const (
	IdentityHeaders     = "headers"
	IdentityCertificate = "certificate"
)
