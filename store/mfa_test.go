package store_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/secret"
	"postern/store"
)

func mfaEntry(action string) audit.Entry {
	return audit.As(actor.Actor{Email: "owner@example.com", Role: actor.Owner}, action, "")
}

// Enrolment, the once-only time step, recovery codes used once, and
// turning it off: each write with its audit entry, on both engines.
func TestAdminMFA(t *testing.T) { engines(t, testAdminMFA) }

func testAdminMFA(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, store.Options{})
	a := firstAdmin(t, s, "owner@example.com", "h")
	if got, err := s.AdminMFA(ctx, a.ID); err != nil || got.Enabled || got.Sealed != "" {
		t.Fatalf("AdminMFA of a new admin = %+v, %v", got, err)
	}
	if err := s.SetMFAPending(ctx, a.ID, "pst:v1:k1:first"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMFAPending(ctx, a.ID, "pst:v1:k1:second"); err != nil {
		t.Fatal(err)
	}
	// The code was checked against the first secret: a setup started
	// again meanwhile is refused.
	err := s.EnableMFA(ctx, a.ID, "pst:v1:k1:first", 100, [][]byte{{1}, {2}}, mfaEntry(audit.MFAEnrolled))
	if apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("EnableMFA of a replaced secret: %v, want Conflict", err)
	}
	if err := s.EnableMFA(ctx, a.ID, "pst:v1:k1:second", 100, [][]byte{{1}, {2}}, mfaEntry(audit.MFAEnrolled)); err != nil {
		t.Fatal(err)
	}
	got, err := s.AdminMFA(ctx, a.ID)
	if err != nil || !got.Enabled || got.Sealed != "pst:v1:k1:second" || got.LastStep != 100 || got.RecoveryLeft != 2 {
		t.Fatalf("AdminMFA after enrolment = %+v, %v", got, err)
	}
	if adm, _ := s.Admin(ctx, a.ID); !adm.MFAEnabled() {
		t.Fatal("Admin does not show two-factor on")
	}
	if err := s.SetMFAPending(ctx, a.ID, "pst:v1:k1:third"); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("SetMFAPending over one in use: %v, want Conflict", err)
	}
	// The sealed secret is one of the sealed values, named by the row id.
	vals, err := s.SealedValues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := secret.Stored{Location: secret.Location{Table: "admins", Column: "mfa_secret", Row: strconv.FormatInt(a.ID, 10)}, Value: "pst:v1:k1:second"}
	if len(vals) != 1 || vals[0] != want {
		t.Fatalf("SealedValues = %+v, want %+v", vals, want)
	}

	// Steps: only a later one is accepted, and of two concurrent
	// requests with the same step exactly one is.
	for _, c := range []struct {
		step int64
		ok   bool
	}{{100, false}, {99, false}, {101, true}, {101, false}} {
		if ok, err := s.AcceptMFAStep(ctx, a.ID, c.step); err != nil || ok != c.ok {
			t.Fatalf("AcceptMFAStep(%d) = %v, %v; want %v", c.step, ok, err, c.ok)
		}
	}
	var wg sync.WaitGroup
	results := make(chan bool, 8)
	for range 8 {
		wg.Go(func() {
			ok, err := s.AcceptMFAStep(ctx, a.ID, 105)
			if err != nil {
				t.Error(err)
			}
			results <- ok
		})
	}
	wg.Wait()
	close(results)
	n := 0
	for ok := range results {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of 8 concurrent requests with one step were accepted, want 1", n)
	}

	// Recovery codes: each once, audited on use only.
	if ok, err := s.UseRecoveryCode(ctx, a.ID, []byte{1}, mfaEntry(audit.MFARecoveryCodeUsed)); !ok || err != nil {
		t.Fatalf("UseRecoveryCode = %v, %v", ok, err)
	}
	for _, h := range [][]byte{{1}, {9}} {
		if ok, err := s.UseRecoveryCode(ctx, a.ID, h, mfaEntry(audit.MFARecoveryCodeUsed)); ok || err != nil {
			t.Fatalf("UseRecoveryCode(%v) again or unknown = %v, %v", h, ok, err)
		}
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM audit_log WHERE action = ?", audit.MFARecoveryCodeUsed); n != 1 {
		t.Fatalf("%d recovery audit rows, want 1", n)
	}
	if got, _ := s.AdminMFA(ctx, a.ID); got.RecoveryLeft != 1 {
		t.Fatalf("RecoveryLeft = %d, want 1", got.RecoveryLeft)
	}

	// Off: nothing left, and the codes no longer work.
	if _, err := s.ClearMFA(ctx, a.ID, true, mfaEntry(audit.MFAReset)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AdminMFA(ctx, a.ID); got.Enabled || got.Sealed != "" || got.RecoveryLeft != 0 || got.LastStep != 0 {
		t.Fatalf("AdminMFA after ClearMFA = %+v", got)
	}
	if ok, _ := s.UseRecoveryCode(ctx, a.ID, []byte{2}, mfaEntry(audit.MFARecoveryCodeUsed)); ok {
		t.Fatal("a recovery code works after ClearMFA")
	}
	if ok, _ := s.AcceptMFAStep(ctx, a.ID, 500); ok {
		t.Fatal("a step is accepted with two-factor off")
	}
	if vals, _ := s.SealedValues(ctx); len(vals) != 0 {
		t.Fatalf("SealedValues after ClearMFA = %+v", vals)
	}
	rows, _, _ := s.AuditEntries(ctx, audit.Filter{})
	if len(rows) != 3 || rows[0].Action != audit.MFAReset || rows[0].Target != "owner@example.com" {
		t.Fatalf("audit = %+v", rows)
	}
	if _, err := s.ClearMFA(ctx, a.ID+100, true, mfaEntry(audit.MFAReset)); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("ClearMFA of an unknown admin: %v", err)
	}
}

// Settings: unset reads "", a set value reads back, each set audited.
func TestSettings(t *testing.T) { engines(t, testSettings) }

func testSettings(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, store.Options{})
	if v, err := s.Setting(ctx, "require_mfa"); v != "" || err != nil {
		t.Fatalf("unset Setting = %q, %v", v, err)
	}
	for _, v := range []string{"on", "off"} {
		if err := s.SetSetting(ctx, "require_mfa", v, mfaEntry(audit.MFARequired)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Setting(ctx, "require_mfa"); got != v || err != nil {
			t.Fatalf("Setting = %q, %v; want %q", got, err, v)
		}
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM audit_log WHERE action = ?", audit.MFARequired); n != 2 {
		t.Fatalf("%d audit rows, want 2", n)
	}
}
