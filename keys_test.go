package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/actor"
	"postern/internal/emulator"
	"postern/internal/integration"
	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/store"
)

// configured returns a data directory whose database holds a Defender
// integration sealed under the directory's own master key.
func configured(t *testing.T) (dir string, emuURL string) {
	t.Helper()
	return configuredAt(t, "")
}

// configuredAt is configured on the PostgreSQL database at dbURL, or on
// SQLite in the directory when dbURL is "".
func configuredAt(t *testing.T, dbURL string) (dir string, emuURL string) {
	t.Helper()
	dir = t.TempDir()
	emu := httptest.NewServer(emulator.New(emulator.Config{}))
	t.Cleanup(emu.Close)
	ctx := context.Background()
	kr, _, err := secret.LoadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := integration.New(st, kr, slog.New(slog.NewTextHandler(io.Discard, nil)), integration.Options{LoginURL: emu.URL, APIURL: emu.URL})
	_, err = svc.Configure(actor.NewContext(ctx, actor.Actor{Email: "admin@example.com", Role: actor.Owner}), integration.Input{
		TenantID: emulator.DemoTenantID, ClientID: emulator.DemoClientID, ClientSecret: emulator.DemoClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	return dir, emu.URL
}

func storedKeyID(t *testing.T, dir string) string {
	t.Helper()
	return storedKeyIDAt(t, dir, "")
}

func storedKeyIDAt(t *testing.T, dir, dbURL string) string {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dir, "postern.db"), store.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in, err := st.Integration(context.Background(), "defender")
	if err != nil {
		t.Fatal(err)
	}
	id, err := secret.KeyID(in.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRotateAndRetireKey(t *testing.T) {
	dir, _ := configured(t)
	ctx := context.Background()
	args := []string{"--data-dir", dir}
	if got := storedKeyID(t, dir); got != "k1" {
		t.Fatalf("sealed under %q before rotation, want k1", got)
	}
	// The active key cannot be retired, nor one still in use.
	err := run(ctx, append([]string{"retire-key"}, append(args, "k1")...), envOf(nil), io.Discard)
	if err == nil {
		t.Fatal("retiring the only, active key succeeded")
	}

	out := &testkit.Buffer{}
	if err := run(ctx, append([]string{"rotate-key"}, args...), envOf(nil), out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Active master key is now k2; 1 stored secret(s) re-encrypted") {
		t.Fatalf("rotate-key said:\n%s", out)
	}
	if got := storedKeyID(t, dir); got != "k2" {
		t.Fatalf("sealed under %q after rotation, want k2", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file after rotation: %v %v", fi, err)
	}
	// The server still starts: every stored secret decrypts with the keyring.
	startAndStop(t, dir)

	if err := run(ctx, append([]string{"retire-key"}, append(args, "k1")...), envOf(nil), io.Discard); err != nil {
		t.Fatalf("retire k1 after rotation: %v", err)
	}
	kr, _, err := secret.LoadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil || kr.Has("k1") || !kr.Has("k2") || kr.ActiveID() != "k2" {
		t.Fatalf("keyring after retiring k1: %v %v", kr, err)
	}
	if err := run(ctx, append([]string{"retire-key"}, append(args, "k2")...), envOf(nil), io.Discard); err == nil {
		t.Fatal("retiring the active key in use succeeded")
	}
	startAndStop(t, dir)
}

// A start with a keyring that lacks the key a secret was sealed with stops
// with a message naming the key id.
func TestStartRefusesWhenAStoredSecretCannotBeDecrypted(t *testing.T) {
	dir, _ := configured(t)
	other := filepath.Join(t.TempDir(), "other.key")
	if _, _, err := secret.LoadKeyring("", other); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--master-key-file", other}, envOf(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), `key id "k1"`) {
		t.Fatalf("start with the wrong key = %v, want a refusal naming key id \"k1\"", err)
	}
}

func TestRotateKeyRefusesEnvironmentKey(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"POSTERN_MASTER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
	err := run(context.Background(), []string{"rotate-key", "--data-dir", dir}, env, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "POSTERN_MASTER_KEY") {
		t.Fatalf("rotate-key with an environment key = %v", err)
	}
}

func startAndStop(t *testing.T, dir string) {
	t.Helper()
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, envOf(nil), out) }()
	waitForURL(t, out)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, out)
	}
}
