package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// envKey has bytes that make the standard and URL alphabets differ.
var envKey = bytes.Repeat([]byte{0xfb, 0xff}, 16)

func TestLoadKeyringFromEnv(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, n)) }
	k1 := base64.StdEncoding.EncodeToString(fixedKey(0x11)[:])
	k2 := base64.RawURLEncoding.EncodeToString(fixedKey(0x22)[:])
	tests := []struct {
		name       string
		env        string
		wantActive string
		wantIDs    []string
		wantErr    string // substring; empty means success
	}{
		{"std", base64.StdEncoding.EncodeToString(envKey), "k1", []string{"k1"}, ""},
		{"url", base64.URLEncoding.EncodeToString(envKey), "k1", []string{"k1"}, ""},
		{"raw std", base64.RawStdEncoding.EncodeToString(envKey), "k1", []string{"k1"}, ""},
		{"raw url", base64.RawURLEncoding.EncodeToString(envKey), "k1", []string{"k1"}, ""},
		{"trailing newline", base64.StdEncoding.EncodeToString(envKey) + "\n", "k1", []string{"k1"}, ""},
		{"31 bytes", b64(31), "", nil, "POSTERN_MASTER_KEY must be base64 of exactly 32 bytes (got 31 bytes)"},
		{"33 bytes", b64(33), "", nil, "POSTERN_MASTER_KEY must be base64 of exactly 32 bytes (got 33 bytes)"},
		{"passphrase", "correct horse battery staple", "", nil, "POSTERN_MASTER_KEY must be base64 of exactly 32 bytes (not valid base64)"},
		{"json", `{"active":"k2","keys":{"k1":"` + k1 + `","k2":"` + k2 + `"}}`, "k2", []string{"k1", "k2"}, ""},
		{"json missing active", `{"keys":{"k1":"` + k1 + `"}}`, "", nil, `no "active" key id`},
		{"json active not a key", `{"active":"k3","keys":{"k1":"` + k1 + `"}}`, "", nil, `active key id "k3" is not among its keys`},
		{"json short key", `{"active":"k1","keys":{"k1":"` + b64(17) + `"}}`, "", nil, `key "k1" must be base64 of exactly 32 bytes (got 17 bytes)`},
		{"json bad id", `{"active":"K1","keys":{"K1":"` + k1 + `"}}`, "", nil, `key id "K1" must be`},
		{"json no keys", `{"active":"k1","keys":{}}`, "", nil, `has no "keys"`},
		{"json unknown field", `{"active":"k1","keys":{"k1":"` + k1 + `"},"x":1}`, "", nil, "not a valid JSON keyring"},
		{"json syntax", `{"active":"k1","keys":{"k1":"` + k1 + `"`, "", nil, "not a valid JSON keyring"},
		{"json trailing data", `{"active":"k1","keys":{"k1":"` + k1 + `"}} {}`, "", nil, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/master.key" // must not be created
			kr, created, err := LoadKeyring(tt.env, path)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("LoadKeyring succeeded with %v, want error containing %q", kr, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
				}
				assertNoKeyMaterial(t, err.Error(), tt.env, k1, k2)
				return
			}
			if err != nil {
				t.Fatalf("LoadKeyring: %v", err)
			}
			if created {
				t.Error("created = true for an env key")
			}
			if got := kr.ActiveID(); got != tt.wantActive {
				t.Errorf("ActiveID = %q, want %q", got, tt.wantActive)
			}
			if got := kr.IDs(); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("IDs = %v, want %v", got, tt.wantIDs)
			}
			if tt.wantActive == "k1" && !bytes.Equal(kr.keys["k1"][:], envKey) {
				t.Errorf("key bytes differ from the env value")
			}
		})
	}
}

// assertNoKeyMaterial fails if msg contains any of the secrets.
func assertNoKeyMaterial(t *testing.T, msg string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(msg, strings.TrimSpace(s)) {
			t.Errorf("message %q contains key material", msg)
		}
	}
}

func TestKeyringNeverPrintsKeyBytes(t *testing.T) {
	kr := testKeyring(t, "k2", "k1") // key bytes 0xA0 and 0xA1 = 160, 161
	if got, want := kr.String(), "keyring(active=k2, keys=[k1 k2])"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		outputs = append(outputs, fmt.Sprintf(verb, kr), fmt.Sprintf(verb, *kr))
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("loaded", "keyring", kr)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("loaded", "keyring", kr)
	outputs = append(outputs, text.String(), js.String())
	if !strings.Contains(js.String(), `"keyring":{"active":"k2","keys":["k1","k2"]}`) {
		t.Errorf("JSON log = %s, want active and keys", js.String())
	}

	forbidden := []string{"160 160", "161 161", "a0a0a0", "a1a1a1", `\xa0\xa0`, "\xa0\xa0",
		base64.StdEncoding.EncodeToString(fixedKey(0xA0)[:])[:8]}
	for _, out := range outputs {
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("output %q contains key bytes (%q)", out, f)
			}
		}
	}
}

func TestIDsNaturalOrder(t *testing.T) {
	kr := testKeyring(t, "k10", "k2", "k1", "legacy")
	want := []string{"k1", "k2", "k10", "legacy"}
	if got := kr.IDs(); !slices.Equal(got, want) {
		t.Errorf("IDs = %v, want %v", got, want)
	}
	if got, want := kr.nextID(), "k11"; got != want {
		t.Errorf("nextID = %q, want %q", got, want)
	}
}

func TestWithNewKeyRotates(t *testing.T) {
	kr := testKeyring(t, "k1")
	old := mustSeal(t, kr, "under k1", testLoc)

	rotated, id, err := kr.WithNewKey()
	if err != nil {
		t.Fatalf("WithNewKey: %v", err)
	}
	if id != "k2" || rotated.ActiveID() != "k2" {
		t.Errorf("new id = %q, active = %q; want k2, k2", id, rotated.ActiveID())
	}
	if got := rotated.IDs(); !slices.Equal(got, []string{"k1", "k2"}) {
		t.Errorf("IDs = %v, want [k1 k2]", got)
	}
	if kr.ActiveID() != "k1" || kr.Has("k2") {
		t.Errorf("original changed: %v", kr)
	}
	if got := mustOpen(t, rotated, old, testLoc); got != "under k1" {
		t.Errorf("old value opens as %q, want %q", got, "under k1")
	}
	fresh := mustSeal(t, rotated, "under k2", testLoc)
	for sealed, want := range map[string]string{old: "k1", fresh: "k2"} {
		if got, err := KeyID(sealed); err != nil || got != want {
			t.Errorf("KeyID = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := kr.Open(fresh, testLoc); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("original keyring opening a k2 value: %v, want ErrUnknownKey", err)
	}

	third, id, err := rotated.WithNewKey()
	if err != nil || id != "k3" || third.ActiveID() != "k3" {
		t.Errorf("second rotation = %q, %v; want k3", id, err)
	}
	if bytes.Equal(third.keys["k3"][:], rotated.keys["k2"][:]) {
		t.Error("new key repeats the previous key")
	}
}

// A staged key is held but seals nothing until made active; a value
// sealed after activation opens only with a keyring that holds it.
func TestStagedKeyThenActive(t *testing.T) {
	kr := testKeyring(t, "k1")
	staged, id, err := kr.WithStagedKey()
	if err != nil || id != "k2" || staged.ActiveID() != "k1" || !staged.Has("k2") || kr.Has("k2") {
		t.Fatalf("WithStagedKey = %v, %q, %v; want k2 held, k1 still active, the original unchanged", staged, id, err)
	}
	if got, _ := KeyID(mustSeal(t, staged, "x", testLoc)); got != "k1" {
		t.Fatalf("a staged keyring seals under %q, want k1", got)
	}
	active, err := staged.WithActive("k2")
	if err != nil || active.ActiveID() != "k2" || staged.ActiveID() != "k1" {
		t.Fatalf("WithActive(k2) = %v, %v; want k2 active and the staged keyring unchanged", active, err)
	}
	fresh := mustSeal(t, active, "under k2", testLoc)
	if got := mustOpen(t, staged, fresh, testLoc); got != "under k2" {
		t.Fatalf("the staged keyring opens %q, want the value sealed under k2", got)
	}
	if _, err := kr.WithActive("k2"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("WithActive of a key not held: %v, want ErrUnknownKey", err)
	}
}

func TestWithout(t *testing.T) {
	kr := testKeyring(t, "k2", "k1")
	if _, err := kr.Without("k2"); err == nil || !strings.Contains(err.Error(), "active key") {
		t.Errorf("Without(active) error = %v, want refusal naming the active key", err)
	}
	if _, err := kr.Without("k9"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Without(k9) error = %v, want ErrUnknownKey", err)
	}
	retired, err := kr.Without("k1")
	if err != nil {
		t.Fatalf("Without(k1): %v", err)
	}
	if got := retired.IDs(); !slices.Equal(got, []string{"k2"}) {
		t.Errorf("IDs after retire = %v, want [k2]", got)
	}
	if !kr.Has("k1") {
		t.Error("Without changed the original keyring")
	}
	sealedK1 := mustSeal(t, testKeyring(t, "k1", "k2"), "x", testLoc)
	if _, err := retired.Open(sealedK1, testLoc); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open after retire error = %v, want ErrUnknownKey", err)
	}
}
