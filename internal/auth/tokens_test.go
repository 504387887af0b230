package auth_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/model"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

var tokenAdmin = actor.Actor{ID: 1, Email: "ada@example.com", Role: actor.Owner, IP: "192.0.2.4"}

// auditRows lists the audit rows written after row id, oldest first.
func auditRows(t *testing.T, db *store.Store, after int64) []audit.Entry {
	t.Helper()
	all, _, err := db.AuditEntries(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].ID > after {
			out = append(out, all[i])
		}
	}
	return out
}

func lastRow(t *testing.T, db *store.Store) int64 {
	t.Helper()
	if rows := auditRows(t, db, 0); len(rows) > 0 {
		return rows[len(rows)-1].ID
	}
	return 0
}

// A token name the service refuses (empty, too long, taken by an active
// token) answers with the name's message, is audited as a failure naming
// the field, and creates no token; the name of a revoked token is free.
func TestRefusedTokenCreationsAreAudited(t *testing.T) {
	db := teststore.Open(t, store.Options{})
	ctx := actor.NewContext(context.Background(), tokenAdmin)
	tokens, err := auth.NewTokens(ctx, db, new(testkit.Buffer).Logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokens.Create(ctx, gatewayToken("Gateway A")); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 150) // too long for a name, and cut in the log
	for _, tc := range []struct{ name, target, want string }{
		{"", "", "Name the token after the gateway that will use it."},
		{long, strings.Repeat("x", audit.MaxRefusedTarget) + "…", "Use at most 80 characters."},
		{"Gateway A", "Gateway A", "An active token already has this name."},
	} {
		n := lastRow(t, db)
		token, _, err := tokens.Create(ctx, gatewayToken(tc.name))
		if got := apperr.FieldsOf(err); token != "" || !apperr.Is(err, apperr.Invalid) || len(got) != 1 || got["name"] != tc.want {
			t.Errorf("Create(%.20q) = %q, %v with fields %v; want the name refused: %q", tc.name, token, err, got, tc.want)
		}
		rows := auditRows(t, db, n)
		if len(rows) != 1 || rows[0].Action != audit.APITokenCreated || rows[0].Outcome != audit.Failure ||
			rows[0].Target != tc.target || rows[0].Detail != "refused: name" || rows[0].Actor != tokenAdmin.Email || rows[0].SourceIP != tokenAdmin.IP {
			t.Errorf("Create(%.20q) audit rows = %+v, want one failure of %q, refused: name", tc.name, rows, tc.target)
		}
	}
	all, err := db.APITokens(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("tokens after refusals = %+v, %v; want the one created", all, err)
	}
	if _, err := tokens.Revoke(ctx, all[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokens.Create(ctx, gatewayToken("Gateway A")); err != nil {
		t.Errorf("Create of a revoked token's name: %v", err)
	}
}

// Revoking a token that does not exist, or twice, is NotFound, audited
// with the id; the active tokens stay as they were.
func TestRefusedTokenRevocationsAreAudited(t *testing.T) {
	db := teststore.Open(t, store.Options{})
	ctx := actor.NewContext(context.Background(), tokenAdmin)
	tokens, err := auth.NewTokens(ctx, db, new(testkit.Buffer).Logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	token, row, err := tokens.Create(ctx, gatewayToken("Gateway B"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Revoke(ctx, row.ID+1); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Revoke(unknown) err = %v, want not found", err)
	}
	if _, _, v := tokens.Authorize(token, model.ScopeEvaluate); v != auth.TokenValid {
		t.Error("a refused revocation revoked the token")
	}
	if _, err := tokens.Revoke(ctx, row.ID); err != nil {
		t.Fatal(err)
	}
	n := lastRow(t, db)
	if _, err := tokens.Revoke(ctx, row.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("second Revoke err = %v, want not found", err)
	}
	rows := auditRows(t, db, n)
	if len(rows) != 1 || rows[0].Action != audit.APITokenRevoked || rows[0].Outcome != audit.Failure ||
		rows[0].Target != strconv.FormatInt(row.ID, 10) || rows[0].Detail != "API token was not found." || rows[0].Actor != tokenAdmin.Email {
		t.Errorf("audit rows = %+v, want one failure of token %d", rows, row.ID)
	}
	revoked := 0
	for _, e := range auditRows(t, db, 0) {
		if e.Action == audit.APITokenRevoked && e.Outcome == audit.Failure {
			revoked++
		}
	}
	if revoked != 2 {
		t.Errorf("%d failed revocations audited, want 2", revoked)
	}
}

// gatewayToken asks for a gateway's token named name: evaluate only,
// never expiring.
func gatewayToken(name string) auth.TokenRequest {
	return auth.TokenRequest{Name: name, Scopes: []string{model.ScopeEvaluate}}
}
