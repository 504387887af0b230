// Package actor says who is acting: the admin behind a request, or one of
// Postern's own processes. Services read the actor from the context to
// authorize a change and to name it in the audit log, so that no handler
// passes an email string around.
package actor

import (
	"context"

	"postern/internal/apperr"
)

// Role is what an actor may do. An admin has one of Owner, Editor and
// Auditor, each allowed everything the ones below it are; Postern's own
// processes (the sync, the posture engine, the command line) act as System.
type Role string

// Roles, named once here and read everywhere (the admins table stores
// these spellings).
const (
	// Owner may do everything, including admins, integrations and tokens.
	Owner Role = "owner"
	// Editor may change posture checks, exceptions and webhooks, re-check
	// devices and start a sync.
	Editor Role = "editor"
	// Auditor may read every page, the audit log and the decision log, and
	// change nothing.
	Auditor Role = "auditor"
	System  Role = "system"
)

// AdminRoles lists the roles an admin can hold, highest first, for forms
// and tests.
var AdminRoles = []Role{Owner, Editor, Auditor}

// rank orders the admin roles; anything else (System, "", an unknown
// spelling) ranks 0 and is allowed nothing an admin role guards.
func (r Role) rank() int {
	switch r {
	case Owner:
		return 3
	case Editor:
		return 2
	case Auditor:
		return 1
	}
	return 0
}

// Valid reports whether r is one of AdminRoles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether an admin with role r may do what min guards.
func (r Role) Allows(min Role) bool { return r.rank() > 0 && r.rank() >= min.rank() }

// Label is the role as the console shows it.
func (r Role) Label() string {
	switch r {
	case Owner:
		return "Owner"
	case Editor:
		return "Editor"
	case Auditor:
		return "Auditor"
	case System:
		return "System"
	}
	return ""
}

// Actor is who did something.
type Actor struct {
	ID    int64  // the admin's id; 0 for Postern's own processes
	Email string // how the audit log names the actor
	Role  Role
	IP    string // the client's address; empty for Postern's own processes
}

// Postern's own actors, as the audit log names them.
var (
	Sync        = Actor{Email: "postern (sync)", Role: System}
	Posture     = Actor{Email: "postern (posture)", Role: System}
	Retention   = Actor{Email: "postern (retention)", Role: System}
	CommandLine = Actor{Email: "postern (command line)", Role: System}
	// AdminCommand is postern admin reset-password and reset-mfa.
	AdminCommand = Actor{Email: "postern admin (command line)", Role: System}
)

// Anonymous is the name of a request's actor before sign-in.
const Anonymous = "anonymous"

type ctxKey struct{}

// NewContext returns ctx carrying a.
func NewContext(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// From returns the actor ctx carries, if any.
func From(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(ctxKey{}).(Actor)
	return a, ok
}

// Name is how the audit log names ctx's actor: the admin's email, or
// Anonymous when there is none.
func Name(ctx context.Context) string {
	if a, ok := From(ctx); ok && a.Email != "" {
		return a.Email
	}
	return Anonymous
}

// Admin returns ctx's actor when it is a signed-in Owner, and a Forbidden
// error otherwise: AtLeast(ctx, Owner).
func Admin(ctx context.Context) (Actor, error) { return AtLeast(ctx, Owner) }

// AtLeast returns ctx's actor when it is a signed-in admin whose role
// allows what min guards, and a Forbidden error otherwise. Every service
// method that changes state calls it (or Admin) first: it is the one place
// a service checks a role.
func AtLeast(ctx context.Context, min Role) (Actor, error) {
	a, ok := From(ctx)
	if !ok || !a.Role.Allows(min) {
		return a, apperr.New(apperr.Forbidden, "Your role does not allow this change.")
	}
	return a, nil
}

// AdminOrSystem is Admin, but also lets Postern's own processes (the
// command line's key rotation, say) through.
func AdminOrSystem(ctx context.Context) (Actor, error) {
	if a, ok := From(ctx); ok && a.Role == System {
		return a, nil
	}
	return Admin(ctx)
}
