package store_test

import (
	"context"
	"errors"
	"testing"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/store"
)

const (
	ssoTenant = "11111111-2222-4333-8444-555555555555"
	ssoOID    = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
)

// The sign-in settings round-trip with their version; a stale version is a
// Conflict that writes nothing; password sign-in can be turned off only
// once an Owner of the tenant has signed in with Microsoft.
func TestSignInProvider(t *testing.T) { engines(t, testSignInProvider) }

func testSignInProvider(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, store.Options{})
	if _, err := s.SignInProvider(ctx); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("SignInProvider before any save: %v, want NotFound", err)
	}
	owner := actor.Actor{Email: "owner@example.com", Role: actor.Owner}
	p := model.SignInProvider{TenantID: ssoTenant, ClientID: ssoOID, ClientSecret: "pst:v1:k1:x", Cloud: "commercial",
		RoleMap: model.RoleMap{AppRoles: map[string]actor.Role{"Postern.Owner": actor.Owner}}, ConfiguredBy: owner.Email}
	if err := s.SaveSignInProvider(ctx, p, 0, audit.As(owner, audit.SignInConfigured, "")); err != nil {
		t.Fatal(err)
	}
	got, err := s.SignInProvider(ctx)
	if err != nil || got.TenantID != ssoTenant || got.RoleMap.AppRoles["Postern.Owner"] != actor.Owner || !got.LocalSignIn || got.AutoProvision || got.Version != 1 {
		t.Fatalf("SignInProvider = %+v, %v", got, err)
	}
	p.AutoProvision = true
	if err := s.SaveSignInProvider(ctx, p, 0, audit.As(owner, audit.SignInConfigured, "")); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("save at a stale version: %v, want Conflict", err)
	}
	if err := s.SaveSignInProvider(ctx, p, 1, audit.As(owner, audit.SignInConfigured, "")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SignInProvider(ctx); !got.AutoProvision || got.Version != 2 {
		t.Fatalf("after the second save: %+v", got)
	}
	off := audit.As(owner, audit.LocalSignInChanged, "")
	if err := s.SetLocalSignIn(ctx, false, off); !errors.Is(err, store.ErrNoSSOOwner) {
		t.Fatalf("turn passwords off with no Owner signed in with Microsoft: %v, want ErrNoSSOOwner", err)
	}
	firstAdmin(t, s, "local@example.com", "h")
	a, err := s.CreateEntraAdmin(ctx, "local@example.com", "entra:"+ssoOID, ssoTenant, ssoOID, actor.Owner, audit.As(owner, audit.AdminCreated, ""))
	if err != nil || a.Email != "entra:"+ssoOID {
		t.Fatalf("CreateEntraAdmin with a used email = %+v, %v; want the fallback name", a, err)
	}
	if err := s.SetLocalSignIn(ctx, false, off); !errors.Is(err, store.ErrNoSSOOwner) {
		t.Fatalf("turn passwords off before the Owner's first sign-in with Microsoft: %v", err)
	}
	if _, err := s.RecordEntraSignIn(ctx, a.ID, actor.Owner, audit.As(owner, audit.Login, "")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLocalSignIn(ctx, false, off); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SignInProvider(ctx); got.LocalSignIn {
		t.Fatalf("local sign-in still on: %+v", got)
	}
}

// An admin who signs in with Microsoft is found by (tid, oid) only; each
// sign-in sets the mapped role, but never leaves no enabled Owner and never
// signs a disabled admin in.
func TestEntraAdmins(t *testing.T) { engines(t, testEntraAdmins) }

func testEntraAdmins(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, store.Options{})
	sys := audit.As(actor.AdminCommand, audit.AdminCreated, "")
	a, err := s.CreateEntraAdmin(ctx, "ada@example.com", "x", ssoTenant, ssoOID, actor.Owner, sys)
	if err != nil || a.Email != "ada@example.com" {
		t.Fatalf("CreateEntraAdmin = %+v, %v", a, err)
	}
	if _, err := s.CreateEntraAdmin(ctx, "other@example.com", "y", ssoTenant, ssoOID, actor.Editor, sys); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("a second admin with the same (tid, oid): %v, want Conflict", err)
	}
	if _, err := s.CreateEntraAdmin(ctx, "ADA@example.com", "", ssoTenant, ssoTenant, actor.Editor, sys); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("a used email and no fallback: %v, want Conflict", err)
	}
	if _, err := s.AdminByEntra(ctx, "99999999-2222-4333-8444-555555555555", ssoOID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("AdminByEntra in another tenant: %v, want NotFound", err)
	}
	got, err := s.AdminByEntra(ctx, ssoTenant, ssoOID)
	if err != nil || got.ID != a.ID || got.PasswordHash != "" || got.EntraObjectID != ssoOID {
		t.Fatalf("AdminByEntra = %+v, %v", got, err)
	}
	if _, err := s.RecordEntraSignIn(ctx, a.ID, actor.Editor, audit.As(actor.AdminCommand, audit.Login, "")); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("the last Owner signs in mapped to Editor: %v, want ErrLastOwner", err)
	}
	b, err := s.CreateEntraAdmin(ctx, "bob@example.com", "x", ssoTenant, ssoTenant, actor.Owner, sys)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.RecordEntraSignIn(ctx, a.ID, actor.Editor, audit.As(actor.AdminCommand, audit.Login, ""))
	if err != nil || signed.Role != actor.Editor || signed.SSOSignInAt == nil {
		t.Fatalf("RecordEntraSignIn = %+v, %v", signed, err)
	}
	if _, err := s.SetAdminDisabled(ctx, a.ID, true, sys); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordEntraSignIn(ctx, a.ID, actor.Editor, audit.As(actor.AdminCommand, audit.Login, "")); !errors.Is(err, store.ErrAdminDisabled) {
		t.Fatalf("a disabled admin signs in: %v, want ErrAdminDisabled", err)
	}
	if got, _ := s.Admin(ctx, b.ID); got.SSOSignInAt != nil {
		t.Fatalf("another admin's sign-in recorded: %+v", got)
	}
}
