// Package actor says who is acting: the admin behind a request, or one of
// Postern's own processes. Services read the actor from the context to
// authorize a change and to name it in the audit log, so that no handler
// passes an email string around.
package actor

import (
	"context"

	"postern/internal/apperr"
)

// Role is what an actor may do.
type Role string

// Roles. Every admin is an Owner until roles arrive; Postern's own
// processes (the sync, the posture engine, the command line) act as System.
const (
	Owner  Role = "owner"
	System Role = "system"
)

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
	// AdminCommand is postern admin reset-password.
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

// Admin returns ctx's actor when it is a signed-in admin allowed to change
// Postern, and a Forbidden error otherwise. Every service method that
// changes state calls it first: it is the one place roles will be checked.
func Admin(ctx context.Context) (Actor, error) {
	a, ok := From(ctx)
	if !ok || a.Role != Owner {
		return a, apperr.New(apperr.Forbidden, "You are not allowed to make this change.")
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
