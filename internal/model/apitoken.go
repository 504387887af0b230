package model

import "time"

// The scopes of an API token (docs/api.md#token-scopes): ScopeEvaluate
// for the enforcement endpoints (evaluate and forward-auth), ScopeMetrics
// for GET /metrics, ScopeRead for the read-only management API.
const (
	ScopeEvaluate = "evaluate"
	ScopeMetrics  = "metrics"
	ScopeRead     = "read"
)

// TokenScopes are every scope, in the order forms and lists show them.
var TokenScopes = []string{ScopeEvaluate, ScopeMetrics, ScopeRead}

// LegacyTokenScopes are the scopes of a token made before scopes existed
// (migration 0031), and of one created by a client that sends no scope
// field at all.
var LegacyTokenScopes = []string{ScopeEvaluate, ScopeMetrics}

// ScopeInfo describes a scope on the tokens page.
type ScopeInfo struct {
	Scope, Label, Grants string
}

// TokenScopeInfo describes each scope, in TokenScopes' order.
var TokenScopeInfo = []ScopeInfo{
	{ScopeEvaluate, "Evaluate", "POST /api/v1/posture/evaluate and forward-auth"},
	{ScopeMetrics, "Metrics", "GET /metrics"},
	{ScopeRead, "Read", "the read-only API: GET /api/v1/devices/{id}, /api/v1/posture-checks"},
}

// TokenExpiry is a choice of the create form's expiry: after Days days,
// never (TokenNeverExpires) or on a date (TokenExpiresOnDate).
type TokenExpiry struct {
	Value, Label string
	Days         int
}

// The expiry choices that are not a number of days.
const (
	TokenNeverExpires  = "never"
	TokenExpiresOnDate = "date"
)

// TokenExpiries are the create form's expiry choices, in its order.
var TokenExpiries = []TokenExpiry{
	{TokenNeverExpires, "Never", 0}, {"30", "30 days", 30}, {"90", "90 days", 90}, {"365", "1 year", 365},
	{TokenExpiresOnDate, "On a date", 0},
}

// TokenExpiringSoon is how close to its expiry a token is flagged on the
// tokens page.
const TokenExpiringSoon = 14 * 24 * time.Hour

// MaxTokenLifetime is the furthest an expiry may be set: five years.
const MaxTokenLifetime = 5 * 366 * 24 * time.Hour
