package secret

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestLoadKeyringCreatesKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "master.key")

	kr, created, err := LoadKeyring("", path)
	if err != nil {
		t.Fatalf("first LoadKeyring: %v", err)
	}
	if !created || kr.ActiveID() != "k1" {
		t.Errorf("created = %v, active = %q; want true, k1", created, kr.ActiveID())
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", got)
	}
	if got := info.Size(); got != KeySize {
		t.Errorf("key file size = %d, want %d", got, KeySize)
	}
	if dirInfo, err := os.Stat(dir); err != nil || dirInfo.Mode().Perm() != 0o700 {
		t.Errorf("data dir = %v, %v; want mode 0700", dirInfo.Mode(), err)
	}
	sealed := mustSeal(t, kr, "survives a restart", testLoc)

	again, created, err := LoadKeyring("", path)
	if err != nil {
		t.Fatalf("second LoadKeyring: %v", err)
	}
	if created {
		t.Error("second LoadKeyring created a new key")
	}
	if got := mustOpen(t, again, sealed, testLoc); got != "survives a restart" {
		t.Errorf("Open after reload = %q, want %q", got, "survives a restart")
	}
}

func TestLoadKeyringConcurrentFirstStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	var wg sync.WaitGroup
	rings := make([]*Keyring, n)
	creates := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { rings[i], creates[i], errs[i] = LoadKeyring("", path) })
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadKeyring %d: %v", i, errs[i])
		}
		if creates[i] {
			created++
		}
		if !bytes.Equal(rings[i].keys["k1"][:], rings[0].keys["k1"][:]) {
			t.Errorf("process %d got a different key", i)
		}
	}
	if created != 1 {
		t.Errorf("%d loaders created the key, want 1", created)
	}
}

func TestLoadKeyringRefusesLooseMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o606} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := writeKeyFile(t, bytes.Repeat([]byte{7}, KeySize), mode)
			_, _, err := LoadKeyring("", path)
			if err == nil {
				t.Fatal("LoadKeyring succeeded, want refusal")
			}
			want := fmt.Sprintf("master key file %s is readable by group or others (mode %04o); run: chmod 600 %s", path, mode, path)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error = %q, want it to contain %q", err, want)
			}
		})
	}
}

func TestLoadKeyringRefusesSymlink(t *testing.T) {
	target := writeKeyFile(t, bytes.Repeat([]byte{7}, KeySize), 0o600)
	link := filepath.Join(t.TempDir(), "master.key")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	_, _, err := LoadKeyring("", link)
	if err == nil || !strings.Contains(err.Error(), "is a symlink") {
		t.Errorf("LoadKeyring(symlink) error = %v, want symlink refusal", err)
	}
	dangling := filepath.Join(t.TempDir(), "dangling.key")
	if err := os.Symlink(filepath.Join(t.TempDir(), "missing"), dangling); err != nil {
		t.Fatal(err)
	}
	if _, created, err := LoadKeyring("", dangling); err == nil || created {
		t.Errorf("LoadKeyring(dangling symlink) = created %v, %v; want refusal", created, err)
	}
}

func TestLoadKeyringRefusesBadContents(t *testing.T) {
	tests := []struct {
		name     string
		contents []byte
		want     string
	}{
		{"empty", nil, "is empty"},
		{"31 bytes", bytes.Repeat([]byte{0xC3}, 31), "must hold exactly 32 raw bytes or a JSON keyring (it holds 31 bytes)"},
		{"33 bytes", bytes.Repeat([]byte{0xC3}, 33), "(it holds 33 bytes)"},
		{"base64 text", []byte(base64.StdEncoding.EncodeToString(envKey) + "\n"), "(it holds 45 bytes)"},
		{"bad json", []byte(`{"active":"k1","keys":{"k1":"c2VjcmV0LWtleS1tYXRlcmlhbA"}}`), `key "k1" must be base64 of exactly 32 bytes`},
		{"huge", bytes.Repeat([]byte{'x'}, maxKeyFileSize+1), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeKeyFile(t, tt.contents, 0o600)
			_, _, err := LoadKeyring("", path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadKeyring error = %v, want it to contain %q", err, tt.want)
			}
			if len(tt.contents) > 8 && len(tt.contents) < 100 && strings.Contains(err.Error(), string(tt.contents[:8])) {
				t.Errorf("error %q quotes the file contents", err)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("error %q quotes key material", err)
			}
		})
	}
}

func TestLoadKeyringEnvOverridesFile(t *testing.T) {
	fileKey := bytes.Repeat([]byte{0x55}, KeySize)
	path := writeKeyFile(t, fileKey, 0o644) // even a bad file is not consulted
	env := base64.StdEncoding.EncodeToString(envKey)

	kr, created, err := LoadKeyring(env, path)
	if err != nil || created {
		t.Fatalf("LoadKeyring = created %v, %v; want the env key", created, err)
	}
	if !bytes.Equal(kr.keys["k1"][:], envKey) {
		t.Error("keyring holds the file key, want the env key")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, fileKey) {
		t.Error("key file was modified")
	}

	missing := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := LoadKeyring(env, missing); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(missing); !os.IsNotExist(err) {
		t.Errorf("key file created although the env var is set (stat error %v)", err)
	}
}

func TestLoadKeyringNeedsASource(t *testing.T) {
	if _, _, err := LoadKeyring("", ""); err == nil || !strings.Contains(err.Error(), EnvVar) {
		t.Errorf("LoadKeyring(\"\", \"\") error = %v, want one naming %s", err, EnvVar)
	}
}

func TestWriteKeyringRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	kr, _, err := LoadKeyring("", path) // starts as a raw 32-byte file
	if err != nil {
		t.Fatal(err)
	}
	underK1 := mustSeal(t, kr, "old", testLoc)
	rotated, _, err := kr.WithNewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyring(path, rotated); err != nil {
		t.Fatalf("WriteKeyring: %v", err)
	}

	info, err := os.Lstat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("written keyring mode = %v, %v; want 0600", info.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only the key file (temp file left behind?)", len(entries))
	}
	loaded, created, err := LoadKeyring("", path)
	if err != nil || created {
		t.Fatalf("LoadKeyring after write = created %v, %v", created, err)
	}
	if got := loaded.ActiveID(); got != "k2" {
		t.Errorf("ActiveID = %q, want k2", got)
	}
	if got := loaded.IDs(); !slices.Equal(got, []string{"k1", "k2"}) {
		t.Errorf("IDs = %v, want [k1 k2]", got)
	}
	if got := mustOpen(t, loaded, underK1, testLoc); got != "old" {
		t.Errorf("k1 value opens as %q, want %q", got, "old")
	}
	underK2 := mustSeal(t, rotated, "new", testLoc)
	if got := mustOpen(t, loaded, underK2, testLoc); got != "new" {
		t.Errorf("k2 value opens as %q, want %q", got, "new")
	}

	retired, err := loaded.Without("k1")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyring(path, retired); err != nil {
		t.Fatal(err)
	}
	reloaded, _, err := LoadKeyring("", path)
	if err != nil || reloaded.Has("k1") || !reloaded.Has("k2") {
		t.Errorf("after retire: %v, %v; want only k2", reloaded, err)
	}
}

// writeKeyFile writes contents to a fresh key file with exactly mode,
// whatever the umask.
func writeKeyFile(t *testing.T, contents []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, contents, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}
