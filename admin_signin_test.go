package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/store"
)

// The break-glass: with password sign-in turned off (Sign in with
// Microsoft only), postern admin reset-password turns it back on, audited.
func TestAdminResetPasswordTurnsPasswordsOn(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword("the-old-password-1")
	if _, err := st.CreateFirstAdmin(ctx, "admin@example.com", hash); err != nil {
		t.Fatal(err)
	}
	const tenant = "4f6c2a1e-9b7d-4c3a-8e5f-1a2b3c4d5e6f"
	kr, _, err := secret.LoadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := kr.Seal([]byte("a-client-secret"), secret.Location{Table: "sign_in_providers", Column: "client_secret", Row: model.SignInEntra})
	if err != nil {
		t.Fatal(err)
	}
	e := audit.As(actor.AdminCommand, audit.SignInConfigured, "")
	if err := st.SaveSignInProvider(ctx, model.SignInProvider{TenantID: tenant, ClientID: tenant, ClientSecret: sealed,
		Cloud: "commercial", ConfiguredBy: "admin@example.com"}, 0, e); err != nil {
		t.Fatal(err)
	}
	sso, err := st.CreateEntraAdmin(ctx, "ada@example.com", "x", tenant, "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", actor.Owner, e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordEntraSignIn(ctx, sso.ID, actor.Owner, e); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLocalSignIn(ctx, false, e); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out := &testkit.Buffer{}
	if err := run(ctx, []string{"admin", "reset-password", "--data-dir", dir, "admin@example.com"}, envOf(nil), out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "it is on again") {
		t.Fatalf("output does not say passwords are on again:\n%s", out)
	}
	st, err = store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if p, err := st.SignInProvider(ctx); err != nil || !p.LocalSignIn {
		t.Fatalf("password sign-in still off: %+v, %v", p, err)
	}
	action := audit.LocalSignInChanged
	entries, _, _ := st.AuditEntries(ctx, audit.Filter{Action: &action})
	if len(entries) != 1 || entries[0].Actor != actor.AdminCommand.Email || !strings.Contains(entries[0].Detail, "break-glass") {
		t.Fatalf("audit = %+v", entries)
	}
}
