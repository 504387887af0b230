package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/syncer"
	"postern/store"
)

// auditFixture is a connected console with one of everything a write route
// can act on.
type auditFixture struct {
	t       *testing.T
	d       *defenderEnv
	c       *client
	device  string // a High-risk device, denied by check
	check   int64  // the "Low risk only" check
	token   int64  // an API token
	excepts int64  // an exception on device
	listed  int64  // another, revoked from the Exceptions page
	hook    string // a webhook endpoint
	admin   int64  // an Editor, with a session
	editor  string // the Editor's email
	event   int64  // an event in its outbox
}

// auditCase is one state-changing route: how to call it so that it
// succeeds, the audit action that must record it, and (when its service
// can refuse a well-formed request) a call it refuses.
type auditCase struct {
	route   string // "METHOD /path" exactly as in the routes table
	exempt  string // why the route writes no audit row; the rest is then unused
	action  string
	ok      func(f *auditFixture) (string, url.Values)
	refused func(f *auditFixture) (string, url.Values)
}

func auditPath(p string) func(*auditFixture) (string, url.Values) {
	return func(*auditFixture) (string, url.Values) { return p, url.Values{} }
}

// auditCases is every POST/PUT/PATCH/DELETE route, in an order that leaves
// each one something to act on.
// faExempt: forward-auth answers any method, since proxies send the
// original one.
const faExempt = "forward-auth, the gateway's question under the method the proxy forwards: it changes nothing"

var auditCases = []auditCase{
	{route: "POST /api/v1/posture/evaluate", exempt: "the gateway's question, answered from memory: it changes nothing and is not an admin action (its refusals are 401s, counted in /metrics)"},
	{route: "POST /api/v1/posture/forward-auth", exempt: faExempt},
	{route: "POST /api/v1/posture/forward-auth/*", exempt: faExempt},
	{route: "PUT /api/v1/posture/forward-auth", exempt: faExempt},
	{route: "PUT /api/v1/posture/forward-auth/*", exempt: faExempt},
	{route: "PATCH /api/v1/posture/forward-auth", exempt: faExempt},
	{route: "PATCH /api/v1/posture/forward-auth/*", exempt: faExempt},
	{route: "DELETE /api/v1/posture/forward-auth", exempt: faExempt},
	{route: "DELETE /api/v1/posture/forward-auth/*", exempt: faExempt},
	{route: "POST /zero-trust/posture-checks/preview", exempt: "the editor's impact preview: it computes a draft and stores nothing"},
	{route: "POST /setup", exempt: "covered by TestSetupAndLoginAreAudited: it needs a console without an admin"},
	{route: "POST /login", exempt: "covered by TestSetupAndLoginAreAudited: success, failure and rate limit"},
	{route: "POST /settings/integrations/defender", action: "integration.configured",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/settings/integrations/defender", f.d.goodForm("")
		},
		refused: func(f *auditFixture) (string, url.Values) {
			form := f.d.goodForm("Wrong~secret.value-0123456789abcdefghijk")
			return "/settings/integrations/defender", form
		}},
	{route: "POST /settings/integrations/defender/certificate", action: "integration.certificate_generated",
		ok: func(*auditFixture) (string, url.Values) {
			return "/settings/integrations/defender/certificate", url.Values{"key_bits": {"2048"}}
		}},
	{route: "POST /settings/integrations/defender/sync", action: "sync.requested", ok: auditPath("/settings/integrations/defender/sync")},
	{route: "POST /settings/api-tokens", action: "api_token.created",
		ok: func(*auditFixture) (string, url.Values) {
			return "/settings/api-tokens", url.Values{"name": {"Audit gateway " + time.Now().Format("150405.000000000")}}
		},
		refused: func(*auditFixture) (string, url.Values) {
			return "/settings/api-tokens", url.Values{"name": {"Fixture gateway"}} // the name is taken
		}},
	{route: "POST /settings/api-tokens/:id/revoke", action: "api_token.revoked",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/settings/api-tokens/" + itoa(f.token) + "/revoke", url.Values{}
		},
		refused: auditPath("/settings/api-tokens/999999/revoke")},
	{route: "POST /zero-trust/posture-checks", action: "posture_check.created",
		ok: func(*auditFixture) (string, url.Values) {
			form := lowRiskForm()
			form.Set("name", "Audit check")
			return "/zero-trust/posture-checks", form
		},
		refused: func(*auditFixture) (string, url.Values) {
			return "/zero-trust/posture-checks", lowRiskForm() // the name is taken
		}},
	{route: "POST /zero-trust/posture-checks/:id", action: "posture_check.updated",
		ok: func(f *auditFixture) (string, url.Values) {
			form := confirmedAll(lowRiskForm())
			form.Set("max_risk", "Low")
			return "/zero-trust/posture-checks/" + itoa(f.check), form
		},
		refused: func(f *auditFixture) (string, url.Values) {
			form := lowRiskForm()
			form.Set("name", "")
			return "/zero-trust/posture-checks/" + itoa(f.check), form
		}},
	{route: "POST /devices/:id/recheck", action: "device.rechecked",
		ok: func(f *auditFixture) (string, url.Values) { return deviceURL(f.device) + "/recheck", url.Values{} },
		refused: func(*auditFixture) (string, url.Values) {
			return deviceURL(strings.Repeat("f", 40)) + "/recheck", url.Values{}
		}},
	{route: "POST /devices/:id/exceptions", action: "exception.created",
		ok: func(f *auditFixture) (string, url.Values) {
			return deviceURL(f.device) + "/exceptions", url.Values{"check_id": {"0"}, "reason": {"CHG-77 audit"},
				"expires_on": {f.d.clock.Now().AddDate(0, 0, 7).Format(time.DateOnly)}}
		},
		refused: func(f *auditFixture) (string, url.Values) {
			return deviceURL(f.device) + "/exceptions", url.Values{"check_id": {"0"}, "reason": {" "}, "expires_on": {"2020-01-01"}}
		}},
	{route: "POST /devices/:id/exceptions/:eid/revoke", action: "exception.revoked",
		ok: func(f *auditFixture) (string, url.Values) {
			return deviceURL(f.device) + "/exceptions/" + itoa(f.excepts) + "/revoke", url.Values{}
		},
		refused: func(f *auditFixture) (string, url.Values) {
			return deviceURL(f.device) + "/exceptions/999999/revoke", url.Values{}
		}},
	{route: "POST /zero-trust/exceptions/:eid/revoke", action: "exception.revoked",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/zero-trust/exceptions/" + itoa(f.listed) + "/revoke", url.Values{"device": {f.device}}
		},
		refused: func(f *auditFixture) (string, url.Values) {
			return "/zero-trust/exceptions/999999/revoke", url.Values{"device": {f.device}}
		}},
	{route: "POST /sync-runs/:id/accept", action: "sync.removal_accepted",
		ok: func(f *auditFixture) (string, url.Values) {
			last := f.d.worker.Status().LastRun.ID
			f.d.emu.SetFaults(emulator.Faults{ShrinkFleet: 50})
			defer f.d.emu.SetFaults(emulator.Faults{})
			f.d.worker.Trigger(syncer.TriggerManual)
			run := f.d.waitRunAfter(f.t, last)
			if run.Outcome != model.RunHeld {
				f.t.Fatalf("the shrunk listing's run is %s, want held", run.Outcome)
			}
			return "/sync-runs/" + itoa(run.ID) + "/accept", url.Values{}
		},
		refused: auditPath("/sync-runs/999999/accept")},
	{route: "POST /settings/integrations/defender/disable", action: "integration.disabled", ok: auditPath("/settings/integrations/defender/disable")},
	{route: "POST /settings/integrations/defender/enable", action: "integration.enabled", ok: auditPath("/settings/integrations/defender/enable")},
	{route: "POST /zero-trust/posture-checks/:id/delete", action: "posture_check.deleted",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/zero-trust/posture-checks/" + itoa(f.check) + "/delete", url.Values{}
		},
		refused: auditPath("/zero-trust/posture-checks/999999/delete")},
	{route: "POST /settings/webhooks", action: "webhook.created",
		ok: func(*auditFixture) (string, url.Values) {
			return "/settings/webhooks", url.Values{"url": {"https://hooks.example.com/audit"}, "events": {"sync.failed"}}
		},
		refused: func(*auditFixture) (string, url.Values) {
			return "/settings/webhooks", url.Values{"url": {"http://hooks.example.com/audit"}, "events": {"sync.failed"}}
		}},
	{route: "POST /settings/webhooks/:id/deliveries/:oid/redeliver", action: "webhook.redelivered",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/settings/webhooks/" + f.hook + "/deliveries/" + itoa(f.event) + "/redeliver", url.Values{}
		},
		refused: func(f *auditFixture) (string, url.Values) {
			return "/settings/webhooks/" + f.hook + "/deliveries/999999/redeliver", url.Values{}
		}},
	{route: "POST /settings/webhooks/:id/rotate", action: "webhook.secret_rotated",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/settings/webhooks/" + f.hook + "/rotate", url.Values{}
		},
		refused: auditPath("/settings/webhooks/ep_missing/rotate")},
	{route: "POST /settings/webhooks/:id/disable", action: "webhook.disabled",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/settings/webhooks/" + f.hook + "/disable", url.Values{}
		},
		refused: auditPath("/settings/webhooks/ep_missing/disable")},
	{route: "POST /settings/webhooks/:id/enable", action: "webhook.enabled",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/settings/webhooks/" + f.hook + "/enable", url.Values{}
		},
		refused: auditPath("/settings/webhooks/ep_missing/enable")},
	{route: "POST /settings/webhooks/:id/delete", action: "webhook.deleted",
		ok: func(f *auditFixture) (string, url.Values) {
			return "/settings/webhooks/" + f.hook + "/delete", url.Values{}
		},
		refused: auditPath("/settings/webhooks/ep_missing/delete")},
	{route: "POST /settings/admins", action: "admin.created",
		ok: func(*auditFixture) (string, url.Values) {
			return adminsPath, url.Values{"email": {"new-" + time.Now().Format("150405.000000000") + "@example.com"}, "role": {"auditor"}}
		},
		refused: func(*auditFixture) (string, url.Values) {
			return adminsPath, url.Values{"email": {"not an email"}, "role": {"auditor"}}
		}},
	{route: "POST /settings/admins/:id/role", action: "admin.role_changed",
		ok: func(f *auditFixture) (string, url.Values) {
			return adminsPath + "/" + itoa(f.admin) + "/role", url.Values{"role": {"auditor"}}
		},
		refused: func(*auditFixture) (string, url.Values) {
			return adminsPath + "/999999/role", url.Values{"role": {"auditor"}}
		}},
	{route: "POST /settings/admins/:id/sessions/:sid/end", action: "admin.sessions_ended",
		ok: func(f *auditFixture) (string, url.Values) {
			f.d.signIn(f.editor)
			return adminsPath + "/" + itoa(f.admin) + "/sessions/" + f.sessionRef() + "/end", url.Values{}
		},
		refused: func(f *auditFixture) (string, url.Values) {
			return adminsPath + "/" + itoa(f.admin) + "/sessions/0123456789abcdef/end", url.Values{}
		}},
	{route: "POST /settings/admins/:id/sessions/end", action: "admin.sessions_ended",
		ok: func(f *auditFixture) (string, url.Values) {
			return adminsPath + "/" + itoa(f.admin) + "/sessions/end", url.Values{}
		},
		refused: auditPath(adminsPath + "/999999/sessions/end")},
	{route: "POST /login/code", exempt: "covered by TestCodeStepIsAuditedAndRateLimited: success, failure and rate limit"},
	{route: "POST /login/cancel", exempt: "ends a pending sign-in, which granted nothing; nothing was signed in"},
	{route: "POST /login/passkey/options", exempt: "starts a passkey check: a challenge kept in the pending session; POST /login/passkey is audited"},
	{route: "POST /login/passkey", exempt: "covered by TestPasskeyAddSignInRemove and TestPasskeySignInRefusals: the sign-in and each refusal, audited"},
	{route: "POST /account/passkeys/options", exempt: "starts adding a passkey: a challenge kept in the session; POST /account/passkeys, audited, stores the passkey"},
	{route: "POST /account/passkeys", exempt: "needs an authenticator's answer: covered by TestPasskeyAddSignInRemove (a software authenticator), audited"},
	{route: "POST /account/passkeys/:id/remove", exempt: "covered by TestPasskeyAddSignInRemove and TestPasskeyAddRefusals: removal, a wrong password and another admin's passkey, each audited"},
	{route: "POST /account/mfa", exempt: "starts an enrolment: a pending secret that counts only once POST /account/mfa/confirm, audited, turns it on"},
	{route: "POST /settings/admins/:id/mfa/reset", action: audit.MFAReset,
		ok: func(f *auditFixture) (string, url.Values) {
			enrolAs(f.t, f.d.testEnv, actor.Actor{ID: f.admin, Email: f.editor, Role: actor.Editor})
			return adminsPath + "/" + itoa(f.admin) + "/mfa/reset", url.Values{}
		},
		refused: auditPath(adminsPath + "/999999/mfa/reset")},
	{route: "POST /account/mfa/confirm", action: audit.MFAEnrolled,
		ok: func(f *auditFixture) (string, url.Values) {
			sec := beginVia(f.t, f.c)
			f.d.totp = sec // signedIn answers the code step from now on
			return "/account/mfa/confirm", url.Values{"code": {totpCode(f.t, sec, f.d.clock.Now())}}
		}},
	{route: "POST /account/mfa/recovery-codes", action: audit.MFARecoveryCodesMade, ok: auditPath("/account/mfa/recovery-codes")},
	{route: "POST /settings/admins/require-mfa", action: audit.MFARequired,
		ok: func(*auditFixture) (string, url.Values) { return requireMFAPath, url.Values{"require": {"off"}} }},
	{route: "POST /account/mfa/disable", action: audit.MFADisabled,
		ok: func(*auditFixture) (string, url.Values) {
			return "/account/mfa/disable", url.Values{"password": {testPassword}}
		},
		refused: func(*auditFixture) (string, url.Values) {
			return "/account/mfa/disable", url.Values{"password": {"not-the-password"}}
		}},
	{route: "POST /settings/admins/:id/disable", action: "admin.disabled",
		ok: func(f *auditFixture) (string, url.Values) {
			return adminsPath + "/" + itoa(f.admin) + "/disable", url.Values{}
		},
		refused: auditPath(adminsPath + "/999999/disable")},
	{route: "POST /settings/admins/:id/enable", action: "admin.enabled",
		ok: func(f *auditFixture) (string, url.Values) {
			return adminsPath + "/" + itoa(f.admin) + "/enable", url.Values{}
		},
		refused: auditPath(adminsPath + "/999999/enable")},
	{route: "POST /settings/admins/:id/delete", action: "admin.deleted",
		ok: func(f *auditFixture) (string, url.Values) {
			return adminsPath + "/" + itoa(f.admin) + "/delete", url.Values{}
		},
		refused: auditPath(adminsPath + "/999999/delete")},
	{route: "POST /settings/sign-in", action: "sign_in.configured",
		ok: func(*auditFixture) (string, url.Values) {
			return "/settings/sign-in", url.Values{"tenant_id": {"4f6c2a1e-9b7d-4c3a-8e5f-1a2b3c4d5e6f"}, "client_id": {"7d9e8f10-2a3b-4c5d-9e8f-0a1b2c3d4e5f"},
				"client_secret": {"fixture~secret.value"}, "app_roles_owner": {"Postern.Owner"}, "version": {"0"}}
		},
		refused: func(*auditFixture) (string, url.Values) {
			return "/settings/sign-in", url.Values{"tenant_id": {"contoso.com"}, "version": {"0"}}
		}},
	{route: "POST /settings/sign-in/local", action: "sign_in.local_changed",
		ok: func(*auditFixture) (string, url.Values) {
			return "/settings/sign-in/local", url.Values{"enabled": {"true"}}
		},
		// No Owner has signed in with Microsoft: passwords stay on.
		refused: func(*auditFixture) (string, url.Values) {
			return "/settings/sign-in/local", url.Values{"enabled": {"false"}}
		}},
	{route: "POST /logout", action: "auth.logout", ok: auditPath("/logout")},
}

// TestEveryWriteRouteIsAudited is security item 26 walked over the routes
// table (docs/security.md#item-26): every state-changing route has a case
// here (a new route without one fails), and each writes an audit row with a
// UTC time, the admin, the source address, the action and the outcome, both
// when it succeeds and when CSRF protection refuses it.
func TestEveryWriteRouteIsAudited(t *testing.T) {
	f := newAuditFixture(t)
	cases := map[string]auditCase{}
	for _, ac := range auditCases {
		cases[ac.route] = ac
	}
	for _, r := range f.d.srv.Routes() {
		if !slices.Contains([]string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}, r.Method) {
			continue
		}
		if _, ok := cases[r.Method+" "+r.Path]; !ok {
			t.Errorf("%s %s changes state but has no case in auditCases", r.Method, r.Path)
		}
		delete(cases, r.Method+" "+r.Path)
	}
	for route := range cases {
		t.Errorf("auditCases lists %s, which is not in the routes table", route)
	}

	for _, ac := range auditCases {
		if ac.exempt != "" {
			t.Logf("%s: no audit row: %s", ac.route, ac.exempt)
			continue
		}
		method, _, _ := strings.Cut(ac.route, " ")
		path, form := ac.ok(f)
		// CSRF first: a refused request must change nothing, so the
		// successful call after it still has its target.
		cross := f.d.signedIn()
		cross.fetchSite = "cross-site"
		n := lastAuditID(f.d.store)
		res := cross.do(method, path, form, nil)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s cross-site: status %d, want 403", ac.route, res.StatusCode)
		}
		wantAudit(t, f.d.store, ac.route+" cross-site", n, audit.Entry{Action: "security.csrf_rejected", Outcome: audit.Denied, Target: method + " " + res.Request.URL.Path})

		n = lastAuditID(f.d.store)
		res = f.c.do(method, path, form, nil)
		if res.StatusCode >= 400 {
			t.Fatalf("%s: status %d, want success; body %.500s", ac.route, res.StatusCode, res.body)
		}
		wantAudit(t, f.d.store, ac.route, n, audit.Entry{Action: ac.action, Outcome: audit.Success})
	}
}

// TestRefusedWritesAreAudited sends each write route a well-formed request
// its service refuses (a wrong secret, a taken name, invalid input, an
// unknown id) and asks for an audit row with a failure or denied outcome.
func TestRefusedWritesAreAudited(t *testing.T) {
	f := newAuditFixture(t)
	for _, ac := range auditCases {
		if ac.refused == nil {
			continue
		}
		t.Run(ac.route, func(t *testing.T) {
			method, _, _ := strings.Cut(ac.route, " ")
			path, form := ac.refused(f)
			n := lastAuditID(f.d.store)
			res := f.c.do(method, path, form, nil)
			if res.StatusCode < 400 {
				t.Fatalf("status %d, want a refusal", res.StatusCode)
			}
			wantAudit(t, f.d.store, ac.route+" refused", n, audit.Entry{Action: ac.action})
		})
	}
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	d, c := connected(t)
	f := &auditFixture{t: t, d: d, c: c, device: highRiskDevice(t, d, c)}
	ctx := context.Background()
	checks, err := d.store.PostureChecks(ctx)
	if err != nil || len(checks) != 1 {
		t.Fatalf("checks %v, %v", checks, err)
	}
	f.check = checks[0].ID
	createToken(t, c, "Fixture gateway")
	tokens, _ := d.store.APITokens(ctx)
	f.token = tokens[0].ID
	wantRedirect(t, c.post(deviceURL(f.device)+"/exceptions", url.Values{"check_id": {"0"}, "reason": {"fixture"},
		"expires_on": {d.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly)}}), deviceURL(f.device)+"#exceptions")
	wantRedirect(t, c.post(deviceURL(f.device)+"/exceptions", url.Values{"check_id": {"0"}, "reason": {"fixture 2"},
		"expires_on": {d.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly)}}), deviceURL(f.device)+"#exceptions")
	exc, _ := d.store.Exceptions(ctx, model.ExceptionFilter{DeviceID: f.device})
	f.listed, f.excepts = exc[0].ID, exc[1].ID // newest first
	wantStatus(t, c.post("/settings/webhooks", url.Values{"url": {"https://hooks.example.com/fixture"}, "events": {"sync.failed"}}), http.StatusOK)
	hooks, _ := d.store.WebhookEndpoints(ctx)
	f.hook = hooks[0].ID
	if err := d.store.EmitWebhookEvents(ctx, []model.WebhookEvent{{ID: "msg_fixture", Type: "sync.failed", Body: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	due, _ := d.store.DueWebhooks(ctx, d.clock.Now().Add(time.Minute), 10)
	f.event = due[0].ID
	f.editor = "fixture-editor@example.com"
	d.addAdmin(f.editor, actor.Editor)
	f.admin = adminIDByEmail(t, d.testEnv, f.editor)
	return f
}

// sessionRef names the fixture Editor's newest session.
func (f *auditFixture) sessionRef() string {
	f.t.Helper()
	ss, err := f.d.store.AdminSessions(context.Background(), f.admin)
	if err != nil || len(ss) == 0 {
		f.t.Fatalf("the fixture Editor's sessions: %v, %v", ss, err)
	}
	return auth.SessionRef(ss[0])
}

// wantAudit asks for a row written after id with want's action, and its
// outcome, target and actor when set (the actor defaults to the test
// admin), from loopback, at a UTC time. An unset outcome means "refused":
// anything but success.
func wantAudit(t *testing.T, st *store.Store, what string, id int64, want audit.Entry) {
	t.Helper()
	if want.Actor == "" {
		want.Actor = testEmail
	}
	rows := auditSince(st, id)
	for _, e := range rows {
		if e.Action != want.Action || (want.Outcome != "" && e.Outcome != want.Outcome) || (want.Target != "" && e.Target != want.Target) {
			continue
		}
		if want.Outcome == "" && e.Outcome == audit.Success {
			t.Errorf("%s: audited as a success: %+v", what, e)
		}
		if e.Actor != want.Actor || e.SourceIP != "127.0.0.1" || e.At.IsZero() || e.At.Location() != time.UTC {
			t.Errorf("%s: row %+v lacks the actor %s, the source address or a UTC time", what, e, want.Actor)
		}
		return
	}
	t.Errorf("%s: no row like %+v among %+v", what, want, rows)
}

func lastAuditID(st *store.Store) int64 {
	e, _, _ := st.AuditEntries(context.Background(), audit.Filter{Limit: 1})
	if len(e) == 0 {
		return 0
	}
	return e[0].ID
}

// auditSince lists the rows written after id.
func auditSince(st *store.Store, id int64) []audit.Entry {
	all, _, _ := st.AuditEntries(context.Background(), audit.Filter{})
	var out []audit.Entry
	for _, e := range all {
		if e.ID > id {
			out = append(out, e)
		}
	}
	return out
}

// TestSetupAndLoginAreAudited covers the two write routes that run without
// a signed-in admin (docs/security.md#item-26): the first admin's creation,
// a sign-in, a failed one, the rate limit's refusal and CSRF refusals.
func TestSetupAndLoginAreAudited(t *testing.T) {
	e := newEnv(t)
	st := e.store
	cross := e.client()
	cross.fetchSite = "cross-site"
	form := url.Values{"email": {testEmail}, "password": {testPassword}, "confirm": {testPassword}}
	n := lastAuditID(st)
	wantStatus(t, cross.post("/setup", form), http.StatusForbidden)
	wantAudit(t, st, "cross-site setup", n, audit.Entry{Action: "security.csrf_rejected", Outcome: audit.Denied, Actor: "anonymous", Target: "POST /setup"})
	n = lastAuditID(st)
	e.setup()
	wantAudit(t, st, "setup", n, audit.Entry{Action: "admin.created", Outcome: audit.Success})

	n = lastAuditID(st)
	wantStatus(t, cross.post("/login", url.Values{"email": {testEmail}, "password": {testPassword}}), http.StatusForbidden)
	wantAudit(t, st, "cross-site login", n, audit.Entry{Action: "security.csrf_rejected", Outcome: audit.Denied, Actor: "anonymous", Target: "POST /login"})
	n = lastAuditID(st)
	e.signedIn()
	wantAudit(t, st, "login", n, audit.Entry{Action: "auth.login", Outcome: audit.Success})
	c := e.client()
	for range 10 {
		n = lastAuditID(st)
		wantStatus(t, c.post("/login", url.Values{"email": {testEmail}, "password": {"wrong-password-123"}}), http.StatusUnauthorized)
		wantAudit(t, st, "failed login", n, audit.Entry{Action: "auth.login", Outcome: audit.Failure, Actor: "anonymous", Target: testEmail})
	}
	n = lastAuditID(st)
	wantStatus(t, c.post("/login", url.Values{"email": {testEmail}, "password": {testPassword}}), http.StatusTooManyRequests)
	wantAudit(t, st, "rate-limited login", n, audit.Entry{Action: "auth.rate_limited", Outcome: audit.Denied, Actor: "anonymous"})
}
