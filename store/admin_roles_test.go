package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/store"
)

// The first admin is an Owner; a created admin has the role asked for.
func TestAdminRoles(t *testing.T) { engines(t, testAdminRoles) }

func testAdminRoles(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, store.Options{})
	first := firstAdmin(t, s, "first@example.com", "h")
	if first.Role != actor.Owner {
		t.Fatalf("first admin's role = %q, want owner", first.Role)
	}
	e := audit.As(actor.Actor{Email: "first@example.com", Role: actor.Owner}, audit.AdminCreated, "")
	aud, err := s.CreateAdmin(ctx, "aud@example.com", "h", actor.Auditor, e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Admin(ctx, aud.ID)
	if err != nil || got.Role != actor.Auditor || !got.Enabled() {
		t.Fatalf("Admin = %+v, %v; want an enabled auditor", got, err)
	}
	rows, _, _ := s.AuditEntries(ctx, audit.Filter{})
	if len(rows) != 1 || rows[0].Target != "aud@example.com" || rows[0].ActorRole != actor.Owner {
		t.Fatalf("audit rows = %+v, want the creation by an owner", rows)
	}
	if _, err := s.CreateAdmin(ctx, "AUD@example.com", "h", actor.Editor, e); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("CreateAdmin with a used email: %v, want conflict", err)
	}
}

// The last enabled Owner cannot be demoted, disabled or deleted, and
// disabling or deleting an admin deletes their sessions.
func TestLastOwnerAndSessions(t *testing.T) { engines(t, testLastOwnerAndSessions) }

func testLastOwnerAndSessions(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, store.Options{})
	owner := firstAdmin(t, s, "owner@example.com", "h")
	e := audit.As(actor.Actor{Email: "owner@example.com", Role: actor.Owner}, audit.AdminRoleChanged, "")
	if _, err := s.SetAdminRole(ctx, owner.ID, actor.Editor, e); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("demote the last owner: %v, want ErrLastOwner", err)
	}
	if _, err := s.SetAdminDisabled(ctx, owner.ID, true, e); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("disable the last owner: %v, want ErrLastOwner", err)
	}
	if _, err := s.DeleteAdmin(ctx, owner.ID, e); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("delete the last owner: %v, want ErrLastOwner", err)
	}
	// A disabled second Owner does not count.
	second, err := s.CreateAdmin(ctx, "second@example.com", "h", actor.Owner, e)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := s.InsertSession(ctx, model.Session{IDHash: []byte("0123456789abcdef0123456789abcdef"), AdminID: second.ID, Data: "{}", CreatedAt: now, LastSeenAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetAdminDisabled(ctx, second.ID, true, e); err != nil {
		t.Fatalf("disable the second owner: %v", err)
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM sessions WHERE admin_id = ?", second.ID); n != 0 {
		t.Fatalf("disabled admin keeps %d sessions", n)
	}
	if _, err := s.SetAdminRole(ctx, owner.ID, actor.Auditor, e); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("demote the last enabled owner beside a disabled one: %v, want ErrLastOwner", err)
	}
	if _, err := s.SetAdminDisabled(ctx, second.ID, false, e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetAdminRole(ctx, owner.ID, actor.Auditor, e); err != nil {
		t.Fatalf("demote an owner beside another: %v", err)
	}
	if got, _ := s.Admin(ctx, owner.ID); got.Role != actor.Auditor {
		t.Fatalf("role = %q after the demotion", got.Role)
	}
}

// Two Owners demoting each other at once: exactly one succeeds, so one
// enabled Owner always remains.
func TestLastOwnerUnderConcurrency(t *testing.T) { engines(t, testLastOwnerUnderConcurrency) }

func testLastOwnerUnderConcurrency(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, store.Options{})
	e := audit.As(actor.Actor{Email: "a@example.com", Role: actor.Owner}, audit.AdminRoleChanged, "")
	for round := 0; round < 10; round++ {
		mustExec(t, s, "DELETE FROM admins")
		a, err := s.CreateAdmin(ctx, "a@example.com", "h", actor.Owner, e)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.CreateAdmin(ctx, "b@example.com", "h", actor.Owner, e)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []int64{a.ID, b.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if round%2 == 0 {
					_, errs[i] = s.SetAdminRole(ctx, id, actor.Editor, e)
				} else {
					_, errs[i] = s.DeleteAdmin(ctx, id, e)
				}
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, store.ErrLastOwner) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of 2 concurrent demotions succeeded, want 1", round, ok)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM admins WHERE role = 'owner' AND disabled_at IS NULL"); n != 1 {
			t.Fatalf("round %d: %d enabled owners, want 1", round, n)
		}
	}
}
