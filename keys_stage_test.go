package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/internal/testkit/pgtest"
	"postern/store"
)

// auditOf lists the entries of action, newest first.
func auditOf(t *testing.T, dir, dbURL, action string) []audit.Entry {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dir, "postern.db"), store.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, _, err := st.AuditEntries(context.Background(), audit.Filter{Action: &action, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func keyringAt(t *testing.T, dir string) *secret.Keyring {
	t.Helper()
	kr, err := secret.ReadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// On a single Postern the two phases work as well: stage-key adds a key
// that seals nothing, activate-key makes it active and reseals, each
// audited; a running Postern lists the keys it holds in /readyz?verbose.
func TestStageThenActivateKey(t *testing.T) {
	dir, _ := configured(t)
	ctx := context.Background()
	args := []string{"--data-dir", dir}
	out := &testkit.Buffer{}
	if err := run(ctx, append([]string{"stage-key"}, args...), envOf(nil), out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Staged master key k2") || !strings.Contains(out.String(), "postern activate-key k2") {
		t.Fatalf("stage-key said:\n%s", out)
	}
	if kr := keyringAt(t, dir); kr.ActiveID() != "k1" || !kr.Has("k2") {
		t.Fatalf("keyring after stage-key: %v; want k2 held, k1 active", kr)
	}
	if got := storedKeyID(t, dir); got != "k1" {
		t.Fatalf("sealed under %q after staging, want still k1", got)
	}
	if e := auditOf(t, dir, "", audit.KeyStaged); len(e) != 1 || e[0].Target != "master key k2" {
		t.Fatalf("key.staged entries = %+v, want one for k2", e)
	}
	if r := readyzKeys(t, dir); r.Active != "k1" || !slices.Equal(r.KeyIDs, []string{"k1", "k2"}) {
		t.Fatalf("readyz master_key = %+v; want k1 active, k1 and k2 held", r)
	}

	if err := run(ctx, append([]string{"activate-key"}, append(args, "k9")...), envOf(nil), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "stage-key") {
		t.Fatalf("activate-key of a key not staged = %v, want a refusal pointing at stage-key", err)
	}
	out = &testkit.Buffer{}
	if err := run(ctx, append([]string{"activate-key"}, append(args, "k2")...), envOf(nil), out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Active master key is now k2; 1 stored secret(s) re-encrypted") {
		t.Fatalf("activate-key said:\n%s", out)
	}
	if got := storedKeyID(t, dir); got != "k2" {
		t.Fatalf("sealed under %q after activation, want k2", got)
	}
	if kr := keyringAt(t, dir); kr.ActiveID() != "k2" || !kr.Has("k1") {
		t.Fatalf("keyring after activate-key: %v; want k2 active, k1 still held", kr)
	}
	if e := auditOf(t, dir, "", audit.KeyActivated); len(e) != 1 || e[0].Target != "master key k2" {
		t.Fatalf("key.activated entries = %+v, want one for k2", e)
	}
	if r := readyzKeys(t, dir); r.Active != "k2" {
		t.Fatalf("readyz master_key = %+v; want k2 active", r)
	}
}

func TestStageKeyRefusesEnvironmentKey(t *testing.T) {
	env := envOf(map[string]string{"POSTERN_MASTER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
	for _, cmd := range [][]string{{"stage-key"}, {"activate-key", "k1"}} {
		err := run(context.Background(), append(cmd[:1], append([]string{"--data-dir", t.TempDir()}, cmd[1:]...)...), env, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "POSTERN_MASTER_KEY") {
			t.Fatalf("%s with an environment key = %v", cmd[0], err)
		}
	}
}

type masterKeyReadiness struct {
	Active string   `json:"active"`
	KeyIDs []string `json:"key_ids"`
}

// readyzKeys starts Postern on dir and returns what /readyz?verbose says
// of its master key.
func readyzKeys(t *testing.T, dir string) masterKeyReadiness {
	t.Helper()
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, envOf(nil), out) }()
	url := waitForURL(t, out)
	r := masterKeyOf(t, url)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, out)
	}
	return r
}

func masterKeyOf(t *testing.T, url string) masterKeyReadiness {
	t.Helper()
	res, err := http.Get(url + "/readyz?verbose")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		MasterKey *masterKeyReadiness `json:"master_key"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.MasterKey == nil {
		t.Fatalf("readyz?verbose: %v, master_key %+v", err, body.MasterKey)
	}
	return *body.MasterKey
}

// On PostgreSQL with replicas: the one-step rotate-key refuses, naming the
// other live replica; a replica reports a staged key without a restart;
// activate-key refuses, naming the replica that lacks the key, and is
// accepted once that replica reports it. A replica whose key file lacks
// the key sealing the stored secrets refuses to start, naming the key id.
func TestActivateKeyWaitsForEveryLiveReplica(t *testing.T) {
	dbURL := pgtest.DatabaseURL(t)
	dir, emuURL := configuredAt(t, dbURL)
	ctx := context.Background()
	defer func(d time.Duration) { activateWait = d }(activateWait)
	activateWait = 500 * time.Millisecond
	common := []string{"--data-dir", dir, "--database-url", dbURL}

	// Replica a runs here and reads this directory's key file; replica b,
	// elsewhere, only reports its keys.
	out := &testkit.Buffer{}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(rctx, append([]string{"--addr", "127.0.0.1:0", "--replica-name", "a",
			"--defender-login-url", emuURL, "--defender-api-url", emuURL}, common...), envOf(nil), out)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica a: %v\n%s", err, out)
		}
	}()
	urlA := waitForURL(t, out)
	b, err := store.Open(ctx, "", store.Options{URL: dbURL, Replica: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.ReportKeys(ctx, "k1", []string{"k1"}); err != nil {
		t.Fatal(err)
	}

	err = run(ctx, append([]string{"rotate-key", "--replica-name", "a"}, common...), envOf(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "(b)") || !strings.Contains(err.Error(), "stage-key") {
		t.Fatalf("one-step rotate-key beside replica b = %v, want a refusal naming b and the two phases", err)
	}
	if kr := keyringAt(t, dir); kr.Has("k2") {
		t.Fatalf("the refused rotate-key changed the keyring: %v", kr)
	}

	if err := run(ctx, append([]string{"stage-key"}, common...), envOf(nil), io.Discard); err != nil {
		t.Fatal(err)
	}
	// Replica a reads its key file again when stage-key asks: no restart.
	deadline := time.Now().Add(10 * time.Second)
	for r := masterKeyOf(t, urlA); !slices.Contains(r.KeyIDs, "k2"); r = masterKeyOf(t, urlA) {
		if time.Now().After(deadline) {
			t.Fatalf("replica a's readyz master_key = %+v; want k2 held after stage-key", r)
		}
		time.Sleep(100 * time.Millisecond)
	}

	err = run(ctx, append([]string{"activate-key"}, append(common, "k2")...), envOf(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "b (holds k1)") || strings.Contains(err.Error(), "a (holds") {
		t.Fatalf("activate-key while b lacks k2 = %v, want a refusal naming b only", err)
	}
	if got := storedKeyIDAt(t, dir, dbURL); got != "k1" || keyringAt(t, dir).ActiveID() != "k1" {
		t.Fatalf("the refused activation changed something: sealed under %q, keyring %v", got, keyringAt(t, dir))
	}

	if err := b.ReportKeys(ctx, "k1", []string{"k1", "k2"}); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, append([]string{"activate-key"}, append(common, "k2")...), envOf(nil), io.Discard); err != nil {
		t.Fatalf("activate-key once every live replica holds k2: %v", err)
	}
	if got := storedKeyIDAt(t, dir, dbURL); got != "k2" {
		t.Fatalf("sealed under %q after activation, want k2", got)
	}
	if e := auditOf(t, dir, dbURL, audit.KeyActivated); len(e) != 1 || e[0].Detail != "held by every live replica: a, b" {
		t.Fatalf("key.activated entries = %+v, want one naming a and b", e)
	}
	// retire-key refuses while b still seals with k1; the stored secrets
	// no longer use it, and replica a, asked by activate-key, read its
	// key file again and seals with k2.
	deadline = time.Now().Add(10 * time.Second)
	for {
		reports, err := b.ReplicaKeys(ctx)
		if err == nil && len(reports) == 2 && reports[0].Replica == "a" && reports[0].Active == "k2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica reports = %+v, %v; want a sealing with k2 after activate-key", reports, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := masterKeyOf(t, urlA); r.Active != "k2" {
		t.Fatalf("replica a's readyz master_key = %+v; want k2 active", r)
	}
	err = run(ctx, append([]string{"retire-key"}, append(common, "k1")...), envOf(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "replica b") {
		t.Fatalf("retire-key k1 while b seals with it = %v, want a refusal naming b", err)
	}

	// A replica started with a key file lacking k2 refuses to start.
	other := filepath.Join(t.TempDir(), "other.key")
	if _, _, err := secret.LoadKeyring("", other); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"--addr", "127.0.0.1:0", "--replica-name", "c", "--database-url", dbURL, "--master-key-file", other,
		"--data-dir", t.TempDir()}, envOf(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), `key id "k2"`) {
		t.Fatalf("replica c started without k2 = %v, want a refusal naming key id \"k2\"", err)
	}
}
