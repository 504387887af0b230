package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/store"
)

// A database whose only sealed value is a webhook signing secret is
// refused without its key too, naming the secret and the key, and no new
// key is created.
func TestStartWithoutTheKeyOfAWebhookSecret(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kr, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "elsewhere.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := kr.Seal([]byte("whsec_c2VjcmV0"), secret.Location{Table: "webhook_endpoints", Column: "secret", Row: "ep_1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateWebhookEndpoint(ctx, model.WebhookEndpoint{ID: "ep_1", URL: "https://hooks.example.com/x",
		EventTypes: []string{"sync.failed"}, Secret: sealed, Enabled: true, CreatedBy: "a@example.com"},
		audit.Entry{Actor: "a@example.com", Action: audit.WebhookCreated, Target: "ep_1", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, envOf(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "webhook signing secret") || !strings.Contains(err.Error(), `key id "k1"`) {
		t.Fatalf("start without the key = %v, want a refusal naming the webhook secret and key id k1", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Errorf("the refused start left a master key behind: %v", err)
	}
}
