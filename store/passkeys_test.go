package store_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/store"
)

// Passkeys: one handle per admin, added and listed per admin, a
// credential registered once, a challenge accepted once (even by two
// requests at once), another admin's passkey never removed, and an
// Owner's reset removing them; on both engines.
func TestAdminPasskeys(t *testing.T) { engines(t, testAdminPasskeys) }

func testAdminPasskeys(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, store.Options{})
	a := firstAdmin(t, s, "owner@example.com", "h")
	b, err := s.CreateAdmin(ctx, "other@example.com", "h", actor.Editor, mfaEntry(audit.AdminCreated))
	if err != nil {
		t.Fatal(err)
	}
	h1, err := s.PasskeyHandle(ctx, a.ID, []byte("first-handle"))
	if err != nil || string(h1) != "first-handle" {
		t.Fatalf("PasskeyHandle = %q, %v", h1, err)
	}
	if h2, _ := s.PasskeyHandle(ctx, a.ID, []byte("second-handle")); string(h2) != "first-handle" {
		t.Fatalf("PasskeyHandle changed to %q", h2)
	}

	p, err := s.AddPasskey(ctx, model.Passkey{AdminID: a.ID, Name: "YubiKey 5", RPID: "localhost",
		CredentialID: []byte{1, 2, 3}, Credential: []byte(`{"id":"AQID"}`)}, mfaEntry(audit.PasskeyAdded))
	if err != nil || p.ID == 0 {
		t.Fatalf("AddPasskey = %+v, %v", p, err)
	}
	_, err = s.AddPasskey(ctx, model.Passkey{AdminID: b.ID, Name: "Same key", RPID: "localhost",
		CredentialID: []byte{1, 2, 3}, Credential: []byte(`{}`)}, mfaEntry(audit.PasskeyAdded))
	if apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("the same credential twice: %v, want Conflict", err)
	}
	if adm, _ := s.Admin(ctx, a.ID); adm.Passkeys != 1 || !adm.MFAEnabled() || adm.TOTPEnabled() {
		t.Fatalf("admin with a passkey: Passkeys=%d MFAEnabled=%v TOTPEnabled=%v", adm.Passkeys, adm.MFAEnabled(), adm.TOTPEnabled())
	}
	list, err := s.Passkeys(ctx, a.ID)
	if err != nil || len(list) != 1 || list[0].Name != "YubiKey 5" || !bytes.Equal(list[0].CredentialID, []byte{1, 2, 3}) || list[0].LastUsedAt != nil {
		t.Fatalf("Passkeys = %+v, %v", list, err)
	}
	if other, _ := s.Passkeys(ctx, b.ID); len(other) != 0 {
		t.Fatalf("the other admin lists %d passkeys", len(other))
	}

	// One challenge, two requests at once: one sign-in.
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 2 {
		wg.Go(func() {
			ok, err := s.UsePasskey(ctx, a.ID, p.ID, []byte(`{"id":"AQID","n":1}`), []byte("challenge-1"))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if accepted != 1 {
		t.Fatalf("one challenge accepted %d times", accepted)
	}
	if ok, _ := s.UsePasskey(ctx, b.ID, p.ID, []byte(`{}`), []byte("challenge-2")); ok {
		t.Fatal("another admin's passkey recorded a sign-in")
	}
	if ok, _ := s.UsePasskey(ctx, a.ID, p.ID, []byte(`{"id":"AQID","n":2}`), []byte("challenge-2")); !ok {
		t.Fatal("a fresh challenge was refused")
	}
	list, _ = s.Passkeys(ctx, a.ID)
	if list[0].LastUsedAt == nil || string(list[0].Credential) != `{"id":"AQID","n":2}` {
		t.Fatalf("after a sign-in: %+v", list[0])
	}

	// Another admin's passkey: NotFound, nothing removed, nothing audited.
	before := auditCount(t, s)
	if _, err := s.DeletePasskey(ctx, b.ID, p.ID, mfaEntry(audit.PasskeyRemoved)); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("removing another admin's passkey: %v, want NotFound", err)
	}
	if auditCount(t, s) != before {
		t.Fatal("a refused removal was audited as done")
	}
	if got, err := s.DeletePasskey(ctx, a.ID, p.ID, mfaEntry(audit.PasskeyRemoved)); err != nil || got.Name != "YubiKey 5" {
		t.Fatalf("DeletePasskey = %+v, %v", got, err)
	}
	if adm, _ := s.Admin(ctx, a.ID); adm.Passkeys != 0 || adm.MFAEnabled() {
		t.Fatalf("after removal: Passkeys=%d", adm.Passkeys)
	}

	// An Owner's reset removes the passkeys; turning the app off does not.
	for _, cid := range [][]byte{{7}, {8}} {
		if _, err := s.AddPasskey(ctx, model.Passkey{AdminID: b.ID, Name: "k", RPID: "localhost", CredentialID: cid,
			Credential: []byte(`{}`)}, mfaEntry(audit.PasskeyAdded)); err != nil {
			t.Fatal(err)
		}
	}
	if adm, _ := s.ClearMFA(ctx, b.ID, false, mfaEntry(audit.MFADisabled)); adm.Passkeys != 2 {
		t.Fatalf("turning the app off left %d passkeys, want 2", adm.Passkeys)
	}
	if adm, _ := s.ClearMFA(ctx, b.ID, true, mfaEntry(audit.MFAReset)); adm.Passkeys != 0 {
		t.Fatalf("a reset left %d passkeys", adm.Passkeys)
	}
	if n, _ := s.Passkeys(ctx, b.ID); len(n) != 0 {
		t.Fatalf("a reset left %d passkey rows", len(n))
	}
}

func auditCount(t *testing.T, s *store.Store) int {
	t.Helper()
	_, n, err := s.AuditEntries(context.Background(), audit.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
