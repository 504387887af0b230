package model

import "time"

// Passkey is one of an admin's WebAuthn credentials, as the account page
// lists it and the sign-in checks it. Credential is go-webauthn's
// credential record as JSON: the public key, the sign count, the clone
// warning and the flags, nothing secret.
type Passkey struct {
	ID           int64
	AdminID      int64
	Name         string
	RPID         string
	CredentialID []byte
	Credential   []byte
	CreatedAt    time.Time
	LastUsedAt   *time.Time
	// CloneWarning: a sign-in saw its signature counter go back (a copy
	// of the authenticator may exist); it no longer signs in.
	CloneWarning bool
}

// PasskeyNameMax is the longest name a passkey may have, in characters.
const PasskeyNameMax = 64
