package signin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/signin"
	"postern/internal/testkit/teststore"
	"postern/store"
)

const (
	tenant   = "4f6c2a1e-9b7d-4c3a-8e5f-1a2b3c4d5e6f"
	clientID = "7d9e8f10-2a3b-4c5d-9e8f-0a1b2c3d4e5f"
	// sentinel is the client secret: no output may contain it.
	sentinel = "S3ntinel~Secret.Never-Shown_9f8e7d6c5b4a"
	userOID  = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
	redirect = "https://postern.example.com/login/microsoft/callback"
)

type env struct {
	t     *testing.T
	st    *store.Store
	svc   *signin.Service
	idp   *emulator.SignIn
	owner context.Context
}

func newEnv(t *testing.T, in signin.Input) *env {
	t.Helper()
	dir := t.TempDir()
	st := teststore.OpenAt(t, filepath.Join(dir, "postern.db"), store.Options{})
	kr, _, err := secret.LoadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	idp := emulator.NewSignIn(tenant, clientID, sentinel)
	hs := httptest.NewServer(idp)
	t.Cleanup(hs.Close)
	svc := signin.New(st, kr, slog.New(slog.NewTextHandler(io.Discard, nil)), signin.Options{LoginURL: hs.URL, GraphURL: hs.URL, GraphTimeout: 2 * time.Second})
	e := &env{t: t, st: st, svc: svc, idp: idp,
		owner: actor.NewContext(context.Background(), actor.Actor{ID: 1, Email: "owner@example.com", Role: actor.Owner})}
	in.TenantID, in.ClientID, in.ClientSecret = tenant, clientID, sentinel
	if err := svc.Save(e.owner, in); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return e
}

// ownerMapping maps the app role Postern.Owner to Owner and
// Postern.Auditor to Auditor.
func ownerMapping() signin.Input {
	return signin.Input{AppRoles: map[actor.Role]string{actor.Owner: "Postern.Owner", actor.Auditor: "Postern.Auditor"}}
}

// start runs the browser's part: Begin, then Microsoft's authorize
// endpoint, returning the pending state and the callback it redirects to.
func (e *env) start() (*signin.Pending, signin.Callback) {
	e.t.Helper()
	pend, u, err := e.svc.Begin(context.Background(), redirect)
	if err != nil {
		e.t.Fatalf("Begin: %v", err)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(back.String(), redirect+"?") {
		e.t.Fatalf("authorize answered %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	return &pend, signin.Callback{State: back.Query().Get("state"), Code: back.Query().Get("code"), RedirectURL: redirect, IP: "192.0.2.7"}
}

// finish runs a whole sign-in.
func (e *env) finish() (model.Admin, error) {
	e.t.Helper()
	pend, cb := e.start()
	return e.svc.Finish(context.Background(), pend, cb)
}

func ptr[T any](v T) *T { return &v }

// lastSignIn is the newest auth.login entry.
func (e *env) lastSignIn() audit.Entry {
	e.t.Helper()
	rows, _, err := e.st.AuditEntries(context.Background(), audit.Filter{Action: ptr(audit.Login)})
	if err != nil || len(rows) == 0 {
		e.t.Fatalf("no sign-in audited: %v", err)
	}
	return rows[0]
}

// A user with a mapped app role is created (auto-provisioning on) with that
// role, keyed by (tid, oid); the sign-in is audited with the role; a second
// sign-in finds the same admin, even with another email.
func TestSignInProvisionsWithTheMappedRole(t *testing.T) {
	in := ownerMapping()
	in.AutoProvision = true
	e := newEnv(t, in)
	e.idp.SetUser(emulator.SignInUser{OID: userOID, Email: "Ada@Example.com", Roles: []string{"Postern.Auditor", "Postern.Owner"}})
	a, err := e.finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if a.Role != actor.Owner || a.EntraTenantID != tenant || a.EntraObjectID != userOID || a.Email != "ada@example.com" || a.PasswordHash != "" {
		t.Fatalf("admin = %+v, want an owner keyed by (tid, oid)", a)
	}
	if got := e.lastSignIn(); got.Outcome != audit.Success || got.ActorRole != actor.Owner || got.Actor != "ada@example.com" || got.SourceIP != "192.0.2.7" {
		t.Fatalf("audit = %+v", got)
	}
	e.idp.SetUser(emulator.SignInUser{OID: userOID, Email: "someone-else@example.com", Roles: []string{"Postern.Auditor"}})
	if _, err := e.finish(); err == nil || !strings.Contains(apperr.MessageOf(err), "last enabled Owner") {
		t.Fatalf("the last Owner signs in mapped to Auditor: %v, want refused", err)
	}
	if _, err := e.st.CreateAdmin(context.Background(), "local@example.com", "h", actor.Owner, audit.As(actor.CommandLine, audit.AdminCreated, "")); err != nil {
		t.Fatal(err)
	}
	b, err := e.finish()
	if err != nil || b.ID != a.ID || b.Role != actor.Auditor {
		t.Fatalf("second sign-in = %+v, %v; want the same admin, now an auditor", b, err)
	}
}

// Each bad sign-in is refused with its own plain message, audited as a
// failure, and creates no admin.
func TestSignInRefusals(t *testing.T) {
	cases := []struct {
		name   string
		user   emulator.SignInUser
		faults emulator.SignInFaults
		groups bool // map a group instead of app roles
		auto   bool
		want   string // in the message
		detail string // in the audit detail
	}{
		{name: "wrong issuer", faults: emulator.SignInFaults{Issuer: "https://login.microsoftonline.com/" + tenant + "/v2.0"}, want: "not valid", detail: "another issuer"},
		{name: "wrong audience", faults: emulator.SignInFaults{Audience: "00000003-0000-0000-c000-000000000000"}, want: "not valid", detail: "another audience"},
		{name: "expired token", faults: emulator.SignInFaults{Expired: true}, want: "not valid", detail: "expired"},
		{name: "bad nonce", faults: emulator.SignInFaults{Nonce: "attacker-nonce"}, want: "not valid", detail: "nonce"},
		{name: "tenant not allowed", user: emulator.SignInUser{TID: "99999999-9b7d-4c3a-8e5f-1a2b3c4d5e6f"}, auto: true, want: "another Entra ID tenant", detail: "not the configured tenant"},
		{name: "unknown user", want: "no Postern admin", detail: "auto-provisioning is off"},
		{name: "no mapped role", user: emulator.SignInUser{Roles: []string{"Something.Else"}}, auto: true, want: "no Postern role", detail: "no Postern role"},
		{name: "groups overage, in no mapped group", user: emulator.SignInUser{GroupsOverage: true, Groups: []string{"11111111-2222-4333-8444-555555555555"}},
			groups: true, auto: true, want: "none of the Entra ID groups mapped", detail: "Microsoft Graph found 0 of 1 mapped groups"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := ownerMapping()
			if tc.groups {
				in = signin.Input{Groups: map[actor.Role]string{actor.Editor: "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"}}
			}
			in.AutoProvision = tc.auto
			e := newEnv(t, in)
			u := tc.user
			u.OID, u.Email = userOID, "ada@example.com"
			if u.Roles == nil && !tc.groups {
				u.Roles = []string{"Postern.Owner"}
			}
			e.idp.SetUser(u)
			e.idp.SetFaults(tc.faults)
			_, err := e.finish()
			if err == nil || !strings.Contains(apperr.MessageOf(err), tc.want) {
				t.Fatalf("Finish: %v, want a refusal saying %q", err, tc.want)
			}
			got := e.lastSignIn()
			if got.Outcome != audit.Failure || !strings.Contains(got.Detail, tc.detail) || got.Actor != actor.Anonymous {
				t.Fatalf("audit = %+v, want a failure with %q", got, tc.detail)
			}
			if n, _ := e.st.AdminCount(context.Background()); n != 0 {
				t.Fatalf("%d admins created by a refused sign-in", n)
			}
		})
	}
}

// A state is used once: the callback replayed (the pending state already
// dropped, or another browser's) is refused, as is a forged state.
func TestSignInStateIsSingleUse(t *testing.T) {
	in := ownerMapping()
	in.AutoProvision = true
	e := newEnv(t, in)
	e.idp.SetUser(emulator.SignInUser{OID: userOID, Roles: []string{"Postern.Owner"}})
	pend, cb := e.start()
	if _, err := e.svc.Finish(context.Background(), pend, cb); err != nil {
		t.Fatal(err)
	}
	// The web layer drops the pending state before Finish: a replay finds none.
	if _, err := e.svc.Finish(context.Background(), nil, cb); err == nil || !strings.Contains(apperr.MessageOf(err), "already used") {
		t.Fatalf("replayed callback: %v, want refused", err)
	}
	other, _ := e.start()
	forged := cb
	forged.State = "not-" + cb.State
	if _, err := e.svc.Finish(context.Background(), other, forged); err == nil {
		t.Fatal("a state that is not the pending one was accepted")
	}
}

// A disabled admin is refused; the settings are validated field by field
// and the secret is sealed, never stored or audited in the clear.
func TestSignInDisabledAndSettings(t *testing.T) {
	in := ownerMapping()
	in.AutoProvision = true
	e := newEnv(t, in)
	e.idp.SetUser(emulator.SignInUser{OID: userOID, Roles: []string{"Postern.Auditor"}})
	a, err := e.finish()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SetAdminDisabled(context.Background(), a.ID, true, audit.As(actor.CommandLine, audit.AdminDisabled, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.finish(); err == nil || !strings.Contains(apperr.MessageOf(err), "disabled") {
		t.Fatalf("disabled admin: %v, want refused", err)
	}
	bad := signin.Input{TenantID: "contoso.onmicrosoft.com", ClientID: "x", Cloud: "mars",
		AppRoles: map[actor.Role]string{actor.Owner: "Postern.Öwner", actor.Editor: "Postern.Owner"},
		Groups:   map[actor.Role]string{actor.Auditor: "not-a-guid"}, Version: 1}
	err = e.svc.Save(e.owner, bad)
	for _, f := range []string{signin.FieldTenantID, signin.FieldClientID, signin.FieldCloud, signin.FieldAppRoles(actor.Owner), signin.FieldGroups(actor.Auditor)} {
		if apperr.FieldsOf(err)[f] == "" {
			t.Errorf("field %s not refused: %v", f, apperr.FieldsOf(err))
		}
	}
	p, err := e.st.SignInProvider(context.Background())
	if err != nil || !strings.HasPrefix(p.ClientSecret, "pst:v1:") || strings.Contains(p.ClientSecret, sentinel) {
		t.Fatalf("stored secret = %q, %v", p.ClientSecret, err)
	}
	rows, _, _ := e.st.AuditEntries(context.Background(), audit.Filter{})
	for _, r := range rows {
		if strings.Contains(r.Detail+r.Target, sentinel) {
			t.Fatalf("audit entry holds the secret: %+v", r)
		}
	}
	auditor := actor.NewContext(context.Background(), actor.Actor{ID: 2, Email: "aud@example.com", Role: actor.Editor})
	if err := e.svc.Save(auditor, ownerMapping()); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("an Editor saved the sign-in settings: %v", err)
	}
}
