package model

import (
	"time"

	"postern/internal/actor"
)

// SignInProvider is Sign in with Microsoft as configured in Settings →
// Sign-in: the Entra tenant and app, the app's client secret (sealed by
// internal/secret; never rendered), the cloud (the Defender integration's
// values), the mapping of app roles and groups to Postern roles, and
// whether unknown users are created and local passwords still work.
type SignInProvider struct {
	Name          string // always SignInEntra
	TenantID      string
	ClientID      string
	ClientSecret  string // sealed: pst:v1:…
	Cloud         string
	RoleMap       RoleMap
	AutoProvision bool
	// LocalSignIn is false once an Owner has turned password sign-in off.
	LocalSignIn  bool
	ConfiguredBy string
	UpdatedAt    time.Time
	Version      int64
}

// SignInEntra is the name of the one sign-in provider row.
const SignInEntra = "entra"

// RoleMap maps what an Entra ID token says about a user to a Postern
// role: app role values (the roles claim) and group object ids (the groups
// claim). App roles take precedence: groups are read only for a user no
// app role maps.
type RoleMap struct {
	AppRoles map[string]actor.Role `json:"app_roles,omitempty"`
	Groups   map[string]actor.Role `json:"groups,omitempty"`
}
