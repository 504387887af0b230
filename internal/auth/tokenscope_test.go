package auth_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/model"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// A token works for its scopes only, until it expires: out of scope it is
// TokenOutOfScope (its use not recorded), once expired TokenExpired, and
// Verify no longer knows it.
func TestTokenScopesAndExpiry(t *testing.T) {
	db := teststore.Open(t, store.Options{})
	ctx := actor.NewContext(context.Background(), tokenAdmin)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tokens, err := auth.NewTokens(ctx, db, new(testkit.Buffer).Logger(), clock)
	if err != nil {
		t.Fatal(err)
	}
	token, row, err := tokens.Create(ctx, auth.TokenRequest{Name: "Prometheus", Scopes: []string{model.ScopeRead, model.ScopeMetrics, model.ScopeMetrics}, Expires: "30"})
	if err != nil {
		t.Fatal(err)
	}
	if want := now.AddDate(0, 0, 30); !slices.Equal(row.Scopes, []string{model.ScopeMetrics, model.ScopeRead}) || row.ExpiresAt == nil || !row.ExpiresAt.Equal(want) {
		t.Errorf("created %v expiring %v; want metrics, read expiring %v", row.Scopes, row.ExpiresAt, want)
	}
	rows := auditRows(t, db, 0)
	if e := rows[len(rows)-1]; e.Action != audit.APITokenCreated || e.Detail != "scopes metrics, read; identity headers; expires 2027-01-05T10:00:00Z" {
		t.Errorf("creation audited as %+v", e)
	}
	for scope, want := range map[string]auth.TokenVerdict{model.ScopeMetrics: auth.TokenValid, model.ScopeRead: auth.TokenValid, model.ScopeEvaluate: auth.TokenOutOfScope} {
		if _, _, got := tokens.Authorize(token, scope); got != want {
			t.Errorf("Authorize(%s) = %v, want %v", scope, got, want)
		}
	}
	if _, _, got := tokens.Authorize(token+"x", model.ScopeMetrics); got != auth.TokenUnknown {
		t.Errorf("Authorize(another token) = %v, want unknown", got)
	}
	now = row.ExpiresAt.Add(-time.Second)
	if _, _, got := tokens.Authorize(token, model.ScopeMetrics); got != auth.TokenValid {
		t.Errorf("Authorize a second before expiry = %v, want valid", got)
	}
	now = *row.ExpiresAt
	if _, _, got := tokens.Authorize(token, model.ScopeMetrics); got != auth.TokenExpired {
		t.Errorf("Authorize at expiry = %v, want expired", got)
	}
}

// Bad scopes and expiries are refused with the field's message, audited
// as a failure, and create nothing.
func TestTokenScopeAndExpiryRefused(t *testing.T) {
	db := teststore.Open(t, store.Options{})
	ctx := actor.NewContext(context.Background(), tokenAdmin)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tokens, err := auth.NewTokens(ctx, db, new(testkit.Buffer).Logger(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req          auth.TokenRequest
		field, start string
	}{
		{auth.TokenRequest{Name: "a"}, "scopes", "Choose at least one scope."},
		{auth.TokenRequest{Name: "a", Scopes: []string{"evaluate", "admin"}}, "scopes", "Choose scopes from the list"},
		{auth.TokenRequest{Name: "a", Scopes: []string{"read"}, Expires: "7"}, "expires", "Choose when the token expires"},
		{auth.TokenRequest{Name: "a", Scopes: []string{"read"}, Expires: "date", ExpiresOn: "31/01/2027"}, "expires", "Use a date such as"},
		{auth.TokenRequest{Name: "a", Scopes: []string{"read"}, Expires: "date", ExpiresOn: "2026-12-06"}, "expires", "Choose a date after today."},
		{auth.TokenRequest{Name: "a", Scopes: []string{"read"}, Expires: "date", ExpiresOn: "2036-12-06"}, "expires", "A token can last at most five years."},
	} {
		n := lastRow(t, db)
		token, _, err := tokens.Create(ctx, tc.req)
		fields := apperr.FieldsOf(err)
		if token != "" || len(fields) != 1 || !strings.HasPrefix(fields[tc.field], tc.start) {
			t.Errorf("Create(%+v) = %q, fields %v; want %s refused: %q", tc.req, token, fields, tc.field, tc.start)
		}
		if rows := auditRows(t, db, n); len(rows) != 1 || rows[0].Outcome != audit.Failure || rows[0].Detail != "refused: "+tc.field {
			t.Errorf("Create(%+v) audited as %+v", tc.req, rows)
		}
	}
	if all, err := db.APITokens(ctx); err != nil || len(all) != 0 {
		t.Errorf("tokens after refusals = %+v, %v; want none", all, err)
	}
	_, row, err := tokens.Create(ctx, auth.TokenRequest{Name: "dated", Scopes: []string{"evaluate"}, Expires: "date", ExpiresOn: "2027-01-31"})
	if want := time.Date(2027, 1, 31, 23, 59, 59, 0, time.UTC); err != nil || row.ExpiresAt == nil || !row.ExpiresAt.Equal(want) {
		t.Errorf("a dated token expires %v (%v), want %v", row.ExpiresAt, err, want)
	}
}
