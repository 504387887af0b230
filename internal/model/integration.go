package model

import "time"

// Integration is a stored connection to a posture source. ClientSecret is
// the sealed value; it is opened only where a client is built.
type Integration struct {
	Name         string
	TenantID     string
	ClientID     string
	ClientSecret string // sealed: pst:v1:…; empty for a certificate
	// Credential is how the app proves itself: "secret" or "certificate".
	Credential      string
	Certificate     string // public PEM of a certificate credential
	PrivateKey      string // its key, sealed: pst:v1:…
	SecretExpiresOn *time.Time
	Cloud           string
	Region          string
	Enabled         bool
	// OutageGraceHours: for how many hours after the data goes stale the
	// posture checks keep using it (0: not at all).
	OutageGraceHours int
	LastError        string
	LastErrorCode    string
	LastErrorAt      *time.Time
	ConfiguredBy     string
	ConfiguredAt     time.Time
	UpdatedAt        time.Time
	// Version increases with every write; compare it to detect a change
	// made by someone else since a read.
	Version int64
}

// PendingCertificate is a certificate Postern generated for an integration
// that is not yet in use: the admin uploads it in Entra, then saves.
type PendingCertificate struct {
	Name        string // the integration
	Certificate string // public PEM
	PrivateKey  string // sealed
	CreatedBy   string
	CreatedAt   time.Time
}
