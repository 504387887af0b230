package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/store"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestStartRefusesUnsafeKeys(t *testing.T) {
	readable := t.TempDir()
	if err := os.WriteFile(filepath.Join(readable, "master.key"), bytes.Repeat([]byte{7}, 32), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"group-readable key file", []string{"--data-dir", readable}, nil, "readable by group or others"},
		{"short env key", []string{"--data-dir", t.TempDir()}, map[string]string{"POSTERN_MASTER_KEY": base64.StdEncoding.EncodeToString(make([]byte, 16))}, "32 bytes"},
		{"passphrase env key", []string{"--data-dir", t.TempDir()}, map[string]string{"POSTERN_MASTER_KEY": "correct horse battery staple"}, "POSTERN_MASTER_KEY"},
		{"bad sync interval", []string{"--data-dir", t.TempDir(), "--sync-interval", "10s"}, nil, "sync-interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", "127.0.0.1:0"}, tc.args...)
			err := run(context.Background(), args, envOf(tc.env), &testkit.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tc.want)
			}
			if v := tc.env["POSTERN_MASTER_KEY"]; v != "" && strings.Contains(err.Error(), v) {
				t.Fatalf("the error repeats the key: %v", err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(readable, "postern.db")); !os.IsNotExist(err) {
		t.Error("a refused start still created the database")
	}
}

// The real serve path: first start creates the key 0600, answers /readyz,
// and a cancelled context shuts down cleanly with no WAL left behind.
func TestServeStartsAndShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	out, stop := startRun(t, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, envOf(nil))

	url := waitForURL(t, out)
	res, err := http.Get(url + "/readyz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", res, err)
	}
	res.Body.Close()
	fi, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("master.key: %v %v", fi, err)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "postern.db-wal")); !os.IsNotExist(err) {
		t.Errorf("WAL file left after a clean shutdown: %v", err)
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("no shutdown log line:\n%s", out)
	}
}

// startRun runs the console with args in the background. stop cancels it
// and fails the test unless run returns nil within 20 s.
func startRun(t *testing.T, args []string, getenv func(string) string) (out *testkit.Buffer, stop func()) {
	t.Helper()
	out = &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, out) }()
	return out, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run after cancel: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("run did not return after cancel")
		}
	}
}

var urlPattern = regexp.MustCompile(`msg="postern is ready" url=(http://[0-9.:]+)`)

func waitForURL(t *testing.T, out *testkit.Buffer) string {
	t.Helper()
	return waitFor(t, out, urlPattern)[1]
}

func TestAdminResetPassword(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword("the-old-password-1")
	if _, err := st.CreateFirstAdmin(ctx, "admin@example.com", hash); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out := &testkit.Buffer{}
	if err := run(ctx, []string{"admin", "reset-password", "--data-dir", dir, "ADMIN@example.com"}, envOf(nil), out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`New password for admin@example.com: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output lacks the new password:\n%s", out)
	}
	st, err = store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, _ := st.AdminByEmail(ctx, "admin@example.com")
	if err := auth.VerifyPassword(a.PasswordHash, m[1]); err != nil {
		t.Fatalf("new password does not verify: %v", err)
	}
	if auth.VerifyPassword(a.PasswordHash, "the-old-password-1") == nil {
		t.Fatal("old password still works")
	}
	action := "admin.password_reset"
	if entries, _, _ := st.AuditEntries(ctx, audit.Filter{Action: &action}); len(entries) != 1 {
		t.Fatalf("password reset audited %d times, want 1", len(entries))
	}
	err = run(ctx, []string{"admin", "reset-password", "--data-dir", dir, "nobody@example.com"}, envOf(nil), &testkit.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no admin account") {
		t.Fatalf("unknown admin: %v", err)
	}
}

// postern admin reset-mfa turns an admin's two-factor off, audited as the
// command line; an unknown email is refused.
func TestAdminResetMFA(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.CreateFirstAdmin(ctx, "admin@example.com", "$argon2id$unused")
	if err != nil {
		t.Fatal(err)
	}
	kr, _, err := secret.LoadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := kr.Seal([]byte("JBSWY3DPEHPK3PXP"), secret.Location{Table: "admins", Column: "mfa_secret", Row: strconv.FormatInt(a.ID, 10)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetMFAPending(ctx, a.ID, sealed); err != nil {
		t.Fatal(err)
	}
	if err := st.EnableMFA(ctx, a.ID, sealed, 1, [][]byte{{1}}, audit.Entry{Actor: "test", Action: audit.MFAEnrolled, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out := &testkit.Buffer{}
	if err := run(ctx, []string{"admin", "reset-mfa", "--data-dir", dir, "admin@example.com"}, envOf(nil), out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Two-factor authentication of admin@example.com is off") {
		t.Fatalf("output: %s", out)
	}
	st, err = store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, _ := st.AdminMFA(ctx, a.ID); got.Enabled || got.Sealed != "" || got.RecoveryLeft != 0 {
		t.Fatalf("after reset-mfa: %+v", got)
	}
	action := audit.MFAReset
	entries, _, _ := st.AuditEntries(ctx, audit.Filter{Action: &action})
	if len(entries) != 1 || entries[0].Actor != "postern admin (command line)" || entries[0].Target != "admin@example.com" {
		t.Fatalf("reset-mfa audit = %+v", entries)
	}
	err = run(ctx, []string{"admin", "reset-mfa", "--data-dir", dir, "nobody@example.com"}, envOf(nil), &testkit.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no admin account") {
		t.Fatalf("unknown admin: %v", err)
	}
}
