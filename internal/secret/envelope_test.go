package secret

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var sealedPattern = regexp.MustCompile(`^pst:v1:[a-z0-9]+:[A-Za-z0-9_-]+$`)

func TestSealFormatHidesPlaintext(t *testing.T) {
	kr := testKeyring(t, "k1")
	const plaintext = "sentinel-client-secret-7Qx!9"
	sealed := mustSeal(t, kr, plaintext, testLoc)

	if !sealedPattern.MatchString(sealed) {
		t.Errorf("Seal = %q, want match for %s", sealed, sealedPattern)
	}
	if got, want := strings.TrimPrefix(sealed, "pst:v1:")[:3], "k1:"; got != want {
		t.Errorf("key id part = %q, want %q", got, want)
	}
	forbidden := []string{
		plaintext,
		base64.StdEncoding.EncodeToString([]byte(plaintext)),
		base64.RawStdEncoding.EncodeToString([]byte(plaintext)),
		base64.URLEncoding.EncodeToString([]byte(plaintext)),
		base64.RawURLEncoding.EncodeToString([]byte(plaintext)),
	}
	for _, f := range forbidden {
		if strings.Contains(sealed, f) {
			t.Errorf("sealed value %q contains %q", sealed, f)
		}
	}
	if got := mustOpen(t, kr, sealed, testLoc); got != plaintext {
		t.Errorf("Open = %q, want %q", got, plaintext)
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	kr := testKeyring(t, "k1")
	a := mustSeal(t, kr, "same", testLoc)
	b := mustSeal(t, kr, "same", testLoc)
	if a == b {
		t.Fatalf("two seals of the same plaintext are equal: %q", a)
	}
	for _, s := range []string{a, b} {
		if got := mustOpen(t, kr, s, testLoc); got != "same" {
			t.Errorf("Open(%q) = %q, want %q", s, got, "same")
		}
	}
}

func TestSealEmptyPlaintext(t *testing.T) {
	kr := testKeyring(t, "k1")
	sealed := mustSeal(t, kr, "", testLoc)
	if got := mustOpen(t, kr, sealed, testLoc); got != "" {
		t.Errorf("Open = %q, want empty", got)
	}
}

func TestOpenRefusesMovedOrEditedValue(t *testing.T) {
	kr := testKeyring(t, "k1", "k2")
	sealed := mustSeal(t, kr, "s3cret", testLoc)
	otherKr := testKeyring(t, "k2", "k1") // same ids, different key bytes

	tests := []struct {
		name   string
		kr     *Keyring
		sealed string
		loc    Location
	}{
		{"other row", kr, sealed, Location{testLoc.Table, testLoc.Column, "emulator"}},
		{"other column", kr, sealed, Location{testLoc.Table, "client_id", testLoc.Row}},
		{"other table", kr, sealed, Location{"settings", testLoc.Column, testLoc.Row}},
		{"key id edited", kr, strings.Replace(sealed, ":k1:", ":k2:", 1), testLoc},
		{"same id, other key", otherKr, sealed, testLoc},
		{"payload bit flipped", kr, flipTagChar(sealed), testLoc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.kr.Open(tt.sealed, tt.loc)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("Open error = %v, want ErrAuth", err)
			}
			if !strings.Contains(err.Error(), "message authentication failed") {
				t.Errorf("error %q does not say %q", err, "message authentication failed")
			}
			if got != nil {
				t.Errorf("Open returned plaintext %q with an error", got)
			}
		})
	}
}

// flipTagChar changes a base64 character inside the tag. It avoids the
// last character, whose spare bits would make the value malformed instead.
func flipTagChar(s string) string {
	i := len(s) - 5
	repl := byte('A')
	if s[i] == 'A' {
		repl = 'B'
	}
	return s[:i] + string(repl) + s[i+1:]
}

func TestOpenRefusesMalformed(t *testing.T) {
	kr := testKeyring(t, "k1")
	valid := mustSeal(t, kr, "s3cret", testLoc)
	payload := valid[len("pst:v1:k1:"):]
	tests := []struct {
		name  string
		input string
	}{
		{"empty", ""},
		{"plaintext", "hunter2-plaintext"},
		{"other version", "pst:v2:k1:" + payload},
		{"prefix only", "pst:v1:"},
		{"no separator", "pst:v1:k1"},
		{"empty payload", "pst:v1:k1:"},
		{"empty key id", "pst:v1::" + payload},
		{"upper-case key id", "pst:v1:K1:" + payload},
		{"key id with dash", "pst:v1:k-1:" + payload},
		{"padded payload", valid + "="},
		{"std alphabet", "pst:v1:k1:" + strings.NewReplacer("-", "+", "_", "/").Replace(payload) + "+/"},
		{"newline in payload", "pst:v1:k1:" + payload[:10] + "\n" + payload[10:]},
		{"trailing newline", valid + "\n"},
		{"leading space", " " + valid},
		{"extra colon", "pst:v1:k1:" + payload[:8] + ":" + payload[8:]},
		{"too short for nonce and tag", "pst:v1:k1:" + payload[:36]},
		{"impossible base64 length", "pst:v1:k1:" + payload[:41]},
		{"huge", "pst:v1:k1:" + strings.Repeat("A", maxSealedLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.Open(tt.input, testLoc)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Open error = %v, want ErrMalformed", err)
			}
			if got != nil {
				t.Errorf("Open returned plaintext %q with an error", got)
			}
			if tt.input != "" && len(tt.input) < 1000 && strings.Contains(err.Error(), tt.input) {
				t.Errorf("error %q quotes the input", err)
			}
		})
	}
}

func TestOpenTruncatedNeverSucceeds(t *testing.T) {
	kr := testKeyring(t, "k1")
	valid := mustSeal(t, kr, "a client secret of some length", testLoc)
	for n := 0; n < len(valid); n++ {
		got, err := kr.Open(valid[:n], testLoc)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuth) {
			t.Errorf("Open(valid[:%d]) error = %v, want ErrMalformed or ErrAuth", n, err)
		}
		if got != nil {
			t.Errorf("Open(valid[:%d]) returned plaintext %q", n, got)
		}
	}
}

func TestOpenUnknownKeyNamesIt(t *testing.T) {
	sealed := mustSeal(t, testKeyring(t, "k9"), "s3cret", testLoc)
	_, err := testKeyring(t, "k1", "k2").Open(sealed, testLoc)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open error = %v, want ErrUnknownKey", err)
	}
	if got, want := err.Error(), `secret: key id "k9" is not in the keyring`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestKeyID(t *testing.T) {
	kr := testKeyring(t, "k7")
	id, err := KeyID(mustSeal(t, kr, "x", testLoc))
	if err != nil || id != "k7" {
		t.Errorf("KeyID = %q, %v; want %q, nil", id, err, "k7")
	}
	if _, err := KeyID("not sealed"); !errors.Is(err, ErrMalformed) {
		t.Errorf("KeyID(garbage) error = %v, want ErrMalformed", err)
	}
}

func TestLocationMustBeComplete(t *testing.T) {
	kr := testKeyring(t, "k1")
	valid := mustSeal(t, kr, "x", testLoc)
	tests := []struct {
		name string
		loc  Location
	}{
		{"zero", Location{}},
		{"no row", Location{Table: "t", Column: "c"}},
		{"no column", Location{Table: "t", Row: "1"}},
		{"no table", Location{Column: "c", Row: "1"}},
		{"separator in table", Location{Table: "t|c", Column: "c", Row: "1"}},
		{"separator in column", Location{Table: "t", Column: "c|1", Row: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kr.Seal([]byte("x"), tt.loc); err == nil {
				t.Errorf("Seal(%+v) succeeded, want error", tt.loc)
			}
			if _, err := kr.Open(valid, tt.loc); err == nil {
				t.Errorf("Open(%+v) succeeded, want error", tt.loc)
			}
		})
	}
	// The row comes last in the AAD, so it may hold the separator.
	loc := Location{Table: "t", Column: "c", Row: "a|b"}
	if got := mustOpen(t, kr, mustSeal(t, kr, "x", loc), loc); got != "x" {
		t.Errorf("Open = %q, want %q", got, "x")
	}
}

func TestNilKeyringDoesNotPanic(t *testing.T) {
	var kr *Keyring
	if _, err := kr.Seal([]byte("x"), testLoc); err == nil {
		t.Error("nil Seal succeeded")
	}
	if _, err := kr.Open("pst:v1:k1:AAAA", testLoc); err == nil {
		t.Error("nil Open succeeded")
	}
	if kr.Has("k1") || kr.ActiveID() != "" || kr.IDs() != nil {
		t.Error("nil keyring reports keys")
	}
}
