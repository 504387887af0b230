package storetest

import (
	"slices"
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

func testAPITokens(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"CreateAndList", tokenCreateList},
		tcase{"RevokeFreesTheName", tokenRevoke},
		tcase{"Touch", tokenTouch},
		tcase{"ScopesAndExpiry", tokenScopesExpiry},
	)
}

func newToken(name, prefix string) model.APIToken {
	return model.APIToken{Name: name, Prefix: prefix, Hash: []byte("hash-of-" + prefix), CreatedBy: "admin@example.com"}
}

func tokenCreateList(t *testing.T, s Store) {
	ctx := t.Context()
	a, err := s.CreateAPIToken(ctx, newToken("gateway", "pst_aaaa"), entry(audit.APITokenCreated, "gateway"))
	must(t, err, "CreateAPIToken")
	b, err := s.CreateAPIToken(ctx, newToken("vpn", "pst_bbbb"), entry(audit.APITokenCreated, "vpn"))
	must(t, err, "CreateAPIToken")
	if a.ID == 0 || b.ID == a.ID || !recent(s, a.CreatedAt) {
		t.Errorf("CreateAPIToken = %+v and %+v: want distinct ids, the creation time set", a, b)
	}
	wantAudit(t, s, audit.APITokenCreated, 2)

	_, err = s.CreateAPIToken(ctx, newToken("gateway", "pst_cccc"), entry(audit.APITokenCreated, "gateway"))
	wantKind(t, err, apperr.Conflict, "a second active token named gateway")
	_, err = s.CreateAPIToken(ctx, newToken("other", "pst_aaaa"), entry(audit.APITokenCreated, "other"))
	wantKind(t, err, apperr.Conflict, "a second token with prefix pst_aaaa")
	wantAudit(t, s, audit.APITokenCreated, 2) // the refused ones audited nothing

	all, err := s.APITokens(ctx)
	must(t, err, "APITokens")
	if len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
		t.Fatalf("APITokens = %+v, want vpn then gateway (newest first)", all)
	}
	got := all[1]
	if got.Name != "gateway" || got.Prefix != "pst_aaaa" || string(got.Hash) != "hash-of-pst_aaaa" ||
		got.CreatedBy != "admin@example.com" || !sameTime(got.CreatedAt, a.CreatedAt) || got.LastUsedAt != nil || got.RevokedAt != nil {
		t.Errorf("token read back as %+v", got)
	}
}

func tokenRevoke(t *testing.T, s Store) {
	ctx := t.Context()
	a, err := s.CreateAPIToken(ctx, newToken("gateway", "pst_aaaa"), entry(audit.APITokenCreated, "gateway"))
	must(t, err, "CreateAPIToken")
	got, err := s.RevokeAPIToken(ctx, a.ID, entry(audit.APITokenRevoked, ""))
	must(t, err, "RevokeAPIToken")
	if got.ID != a.ID || got.Name != "gateway" || got.Prefix != "pst_aaaa" {
		t.Errorf("RevokeAPIToken = %+v", got)
	}
	if e := wantAudit(t, s, audit.APITokenRevoked, 1); e.Target != "gateway (pst_aaaa…)" {
		t.Errorf("revocation audited with target %q, want the name and prefix", e.Target)
	}
	_, err = s.RevokeAPIToken(ctx, a.ID, entry(audit.APITokenRevoked, ""))
	wantKind(t, err, apperr.NotFound, "revoking twice")
	_, err = s.RevokeAPIToken(ctx, a.ID+100, entry(audit.APITokenRevoked, ""))
	wantKind(t, err, apperr.NotFound, "revoking an unknown token")
	wantAudit(t, s, audit.APITokenRevoked, 1)

	if _, err := s.CreateAPIToken(ctx, newToken("gateway", "pst_dddd"), entry(audit.APITokenCreated, "gateway")); err != nil {
		t.Errorf("a revoked token's name is free again, yet: %v", err)
	}
	all, err := s.APITokens(ctx)
	must(t, err, "APITokens")
	if len(all) != 2 || all[1].RevokedAt == nil || !recent(s, *all[1].RevokedAt) || all[0].RevokedAt != nil {
		t.Errorf("APITokens = %+v, want the revoked one listed with its time", all)
	}
}

func tokenTouch(t *testing.T, s Store) {
	ctx := t.Context()
	a, err := s.CreateAPIToken(ctx, newToken("a", "pst_aaaa"), entry(audit.APITokenCreated, "a"))
	must(t, err, "CreateAPIToken")
	b, err := s.CreateAPIToken(ctx, newToken("b", "pst_bbbb"), entry(audit.APITokenCreated, "b"))
	must(t, err, "CreateAPIToken")
	must(t, s.TouchAPITokens(ctx, nil), "TouchAPITokens of nothing")
	must(t, s.TouchAPITokens(ctx, map[int64]time.Time{a.ID: at(10, 0), b.ID: at(11, 0)}), "TouchAPITokens")
	must(t, s.TouchAPITokens(ctx, map[int64]time.Time{b.ID: at(12, 0)}), "TouchAPITokens")
	all, err := s.APITokens(ctx)
	must(t, err, "APITokens")
	want := map[int64]time.Time{a.ID: at(10, 0), b.ID: at(12, 0)}
	for _, tok := range all {
		if tok.LastUsedAt == nil || !sameTime(*tok.LastUsedAt, want[tok.ID]) {
			t.Errorf("token %s last used %v, want %v", tok.Name, tok.LastUsedAt, want[tok.ID])
		}
	}
}

// A token's scopes and expiry read back as stored; one stored without
// scopes has those of the tokens made before scopes: evaluate and metrics.
func tokenScopesExpiry(t *testing.T, s Store) {
	ctx := t.Context()
	expires := time.Date(2027, 1, 31, 23, 59, 59, 0, time.UTC)
	scoped := newToken("prometheus", "pst_eeee")
	scoped.Scopes, scoped.ExpiresAt = []string{model.ScopeMetrics, model.ScopeRead}, &expires
	a, err := s.CreateAPIToken(ctx, scoped, entry(audit.APITokenCreated, "prometheus"))
	must(t, err, "CreateAPIToken")
	b, err := s.CreateAPIToken(ctx, newToken("gateway", "pst_ffff"), entry(audit.APITokenCreated, "gateway"))
	must(t, err, "CreateAPIToken")
	all, err := s.APITokens(ctx)
	must(t, err, "APITokens")
	if len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
		t.Fatalf("APITokens = %+v", all)
	}
	if got := all[1]; !slices.Equal(got.Scopes, []string{model.ScopeMetrics, model.ScopeRead}) || !sameTimePtr(got.ExpiresAt, &expires) {
		t.Errorf("scoped token read back with scopes %q, expiry %v", got.Scopes, got.ExpiresAt)
	}
	if got := all[0]; !slices.Equal(got.Scopes, model.LegacyTokenScopes) || got.ExpiresAt != nil {
		t.Errorf("a token stored without scopes reads back with %q, expiry %v; want evaluate and metrics, never", got.Scopes, got.ExpiresAt)
	}
}
