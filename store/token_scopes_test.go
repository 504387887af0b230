package store_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/store"
)

// The scopes migration keeps a token made before it working as it did:
// applied to a database whose api_tokens lacks the columns and holds a
// token, it gives that token evaluate and metrics, and no expiry.
func TestTokenScopesMigrationKeepsOldTokens(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		ctx := t.Context()
		old := model.APIToken{Name: "gateway", Prefix: "pst_old0", Hash: []byte("hash"), CreatedBy: "owner@example.com", Scopes: []string{model.ScopeRead}}
		if _, err := s.CreateAPIToken(ctx, old, audit.Entry{Actor: "owner@example.com", Action: audit.APITokenCreated, Outcome: audit.Success}); err != nil {
			t.Fatal(err)
		}
		// The table as it was before the migration, the token in it.
		mustExec(t, s, "ALTER TABLE api_tokens DROP COLUMN scopes")
		mustExec(t, s, "ALTER TABLE api_tokens DROP COLUMN expires_at")
		dir := "migrations"
		if s.Path() == "" {
			dir = "migrations/postgres"
		}
		files, err := filepath.Glob(filepath.Join(dir, "*_api_token_scopes.sql"))
		if err != nil || len(files) != 1 {
			t.Fatalf("the scopes migration in %s: %v, %v", dir, files, err)
		}
		body, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, s, string(body))
		all, err := s.APITokens(ctx)
		if err != nil || len(all) != 1 {
			t.Fatalf("APITokens = %+v, %v", all, err)
		}
		if got := all[0]; !slices.Equal(got.Scopes, []string{model.ScopeEvaluate, model.ScopeMetrics}) || got.ExpiresAt != nil {
			t.Errorf("the old token has scopes %q and expiry %v after the migration; want evaluate and metrics, never", got.Scopes, got.ExpiresAt)
		}
	})
}
