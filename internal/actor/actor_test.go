package actor_test

import (
	"context"
	"testing"

	"postern/internal/actor"
	"postern/internal/apperr"
)

func TestAdminRefusesAllButSignedInAdmins(t *testing.T) {
	owner := actor.Actor{ID: 7, Email: "ada@example.com", Role: actor.Owner, IP: "192.0.2.1"}
	for _, tc := range []struct {
		name        string
		ctx         context.Context
		admin, both bool
	}{
		{"no actor", context.Background(), false, false},
		{"anonymous", actor.NewContext(context.Background(), actor.Actor{IP: "192.0.2.9"}), false, false},
		{"owner", actor.NewContext(context.Background(), owner), true, true},
		{"system", actor.NewContext(context.Background(), actor.CommandLine), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := actor.Admin(tc.ctx)
			if tc.admin != (err == nil) {
				t.Fatalf("Admin err = %v, want allowed %v", err, tc.admin)
			}
			if err != nil && !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("Admin err kind = %v, want forbidden", apperr.KindOf(err))
			}
			if tc.admin && a != owner {
				t.Errorf("Admin = %+v, want %+v", a, owner)
			}
			if _, err := actor.AdminOrSystem(tc.ctx); tc.both != (err == nil) {
				t.Errorf("AdminOrSystem err = %v, want allowed %v", err, tc.both)
			}
		})
	}
}

func TestNameIsAnonymousWithoutAnEmail(t *testing.T) {
	if got := actor.Name(context.Background()); got != actor.Anonymous {
		t.Errorf("Name(no actor) = %q, want %q", got, actor.Anonymous)
	}
	if got := actor.Name(actor.NewContext(context.Background(), actor.Actor{IP: "192.0.2.9"})); got != actor.Anonymous {
		t.Errorf("Name(no email) = %q, want %q", got, actor.Anonymous)
	}
	if got := actor.Name(actor.NewContext(context.Background(), actor.Sync)); got != "postern (sync)" {
		t.Errorf("Name(sync) = %q", got)
	}
}
