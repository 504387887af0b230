package signin_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/signin"
)

const (
	editorGroup = "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
	ownerGroup  = "6a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	otherGroup  = "11111111-2222-4333-8444-555555555555"
)

// groupsEnv maps ownerGroup to Owner and editorGroup to Editor, with
// auto-provisioning on.
func groupsEnv(t *testing.T) *env {
	return newEnv(t, signin.Input{AutoProvision: true,
		Groups: map[actor.Role]string{actor.Owner: ownerGroup, actor.Editor: editorGroup}})
}

// overageUser is in groups, too many for the token: it says so instead.
func overageUser(groups ...string) emulator.SignInUser {
	return emulator.SignInUser{OID: userOID, Email: "ada@example.com", GroupsOverage: true, Groups: groups}
}

// refusedWithNothing checks a refusal: its message, a failed sign-in
// audited with detail, and no admin created.
func (e *env) refusedWithNothing(err error, kind apperr.Kind, msg, detail string) {
	e.t.Helper()
	if err == nil || !apperr.Is(err, kind) || !strings.Contains(apperr.MessageOf(err), msg) {
		e.t.Fatalf("Finish: %v, want a %v refusal saying %q", err, kind, msg)
	}
	if got := e.lastSignIn(); got.Outcome != audit.Failure || !strings.Contains(got.Detail, detail) {
		e.t.Fatalf("audit = %+v, want a failure with %q", got, detail)
	}
	if n, _ := e.st.AdminCount(context.Background()); n != 0 {
		e.t.Fatalf("%d admins created by a refused sign-in", n)
	}
}

// A user in too many groups for the token, in a mapped group, signs in with
// that group's role: Postern asked Graph (once, with the user's delegated
// token) and notes it in the audit log. A user whose token lists the groups
// costs no Graph request.
func TestGroupsOverageAsksGraph(t *testing.T) {
	e := groupsEnv(t)
	e.idp.SetUser(overageUser(otherGroup, editorGroup))
	a, err := e.finish()
	if err != nil || a.Role != actor.Editor {
		t.Fatalf("Finish = %+v, %v; want an Editor", a, err)
	}
	if n := e.idp.GraphCalls(); n != 1 {
		t.Fatalf("Graph asked %d times, want once", n)
	}
	if got := e.lastSignIn(); got.Outcome != audit.Success || !strings.Contains(got.Detail, "groups overage: Microsoft Graph found 1 of 2 mapped groups") {
		t.Fatalf("audit = %+v", got)
	}
	e.idp.SetUser(emulator.SignInUser{OID: userOID, Email: "ada@example.com", Groups: []string{ownerGroup}})
	if a, err := e.finish(); err != nil || a.Role != actor.Owner || e.idp.GraphCalls() != 1 {
		t.Fatalf("groups in the token: %+v, %v, %d Graph calls; want an Owner and no new call", a, err, e.idp.GraphCalls())
	}
}

// More mapped groups than checkMemberGroups takes (20) are asked in
// chunks; a membership in the last chunk counts.
func TestGroupsOverageChecksEveryMappedGroup(t *testing.T) {
	var ids []string
	for i := range 45 {
		ids = append(ids, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	e := newEnv(t, signin.Input{AutoProvision: true, Groups: map[actor.Role]string{actor.Auditor: strings.Join(ids, "\n")}})
	e.idp.SetUser(overageUser(ids[44]))
	if a, err := e.finish(); err != nil || a.Role != actor.Auditor {
		t.Fatalf("Finish = %+v, %v; want an Auditor", a, err)
	}
	if n := e.idp.GraphCalls(); n != 3 {
		t.Fatalf("Graph asked %d times for 45 groups, want 3 (20 a request)", n)
	}
}

// Postern asks for Graph's User.Read only while groups are mapped.
func TestGraphPermissionAskedOnlyForGroups(t *testing.T) {
	for _, tc := range []struct {
		in   signin.Input
		want bool
	}{{ownerMapping(), false}, {signin.Input{Groups: map[actor.Role]string{actor.Editor: editorGroup}}, true}} {
		e := newEnv(t, tc.in)
		_, u, err := e.svc.Begin(context.Background(), redirect)
		if err != nil {
			t.Fatal(err)
		}
		parsed, _ := url.Parse(u)
		scope := parsed.Query().Get("scope")
		if got := strings.Contains(" "+scope+" ", " User.Read "); got != tc.want || !strings.HasPrefix(scope, "openid") {
			t.Errorf("groups mapped %v: scope %q", tc.want, scope)
		}
	}
}

// A user in none of the mapped groups is refused with a plain message.
func TestGroupsOverageInNoMappedGroup(t *testing.T) {
	e := groupsEnv(t)
	e.idp.SetUser(overageUser(otherGroup))
	_, err := e.finish()
	e.refusedWithNothing(err, apperr.Forbidden, "none of the Entra ID groups mapped", "Microsoft Graph found 0 of 2 mapped groups")
}

// Graph's 403 (the permission or its consent missing) names the
// permission to grant; nothing is provisioned.
func TestGroupsOverageGraphForbidden(t *testing.T) {
	e := groupsEnv(t)
	e.idp.SetUser(overageUser(editorGroup))
	e.idp.SetGraphFaults(emulator.GraphFaults{Forbidden: true})
	_, err := e.finish()
	e.refusedWithNothing(err, apperr.Forbidden, "delegated Microsoft Graph permission User.Read", "Microsoft Graph refused: 403 Authorization_RequestDenied")
	if msg := apperr.MessageOf(err); !strings.Contains(msg, "403 Authorization_RequestDenied") {
		t.Errorf("message %q does not name Graph's answer", msg)
	}
}

// A 429 with a short Retry-After is waited out and the sign-in completes;
// a long one, or throttling that does not end, is refused saying when to
// try again, after a bounded number of requests.
func TestGroupsOverageGraphThrottled(t *testing.T) {
	e := groupsEnv(t)
	e.idp.SetUser(overageUser(editorGroup))
	e.idp.SetGraphFaults(emulator.GraphFaults{Throttle: 1, RetryAfter: time.Second})
	start := time.Now()
	if a, err := e.finish(); err != nil || a.Role != actor.Editor {
		t.Fatalf("Finish = %+v, %v; want an Editor after the 429", a, err)
	}
	if n, took := e.idp.GraphCalls(), time.Since(start); n != 2 || took < time.Second {
		t.Fatalf("%d Graph calls in %s, want 2 with the Retry-After waited out", n, took)
	}

	f := groupsEnv(t)
	f.idp.SetUser(overageUser(editorGroup))
	f.idp.SetGraphFaults(emulator.GraphFaults{Throttle: 1, RetryAfter: 90 * time.Second})
	_, err := f.finish()
	f.refusedWithNothing(err, apperr.Unavailable, "Try again in 90 seconds", "Retry-After 1m30s")
	if n := f.idp.GraphCalls(); n != 1 {
		t.Fatalf("%d Graph calls, want 1: a long Retry-After is not waited out", n)
	}

	g := groupsEnv(t)
	g.idp.SetUser(overageUser(editorGroup))
	g.idp.SetGraphFaults(emulator.GraphFaults{Throttle: 10, RetryAfter: time.Second})
	_, err = g.finish()
	g.refusedWithNothing(err, apperr.Unavailable, "429 Too Many Requests", "throttled: 429 TooManyRequests")
	if n := g.idp.GraphCalls(); n != 3 {
		t.Fatalf("%d Graph calls, want 3 attempts", n)
	}
}

// A Graph that does not answer in time is a refusal, not a hang.
func TestGroupsOverageGraphTimeout(t *testing.T) {
	e := groupsEnv(t)
	e.idp.SetUser(overageUser(editorGroup))
	e.idp.SetGraphFaults(emulator.GraphFaults{Delay: 10 * time.Second})
	start := time.Now()
	_, err := e.finish()
	e.refusedWithNothing(err, apperr.Unavailable, "did not answer in time", "did not answer within 2s")
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the sign-in took %s, want the 2 s Graph timeout", took)
	}
}
