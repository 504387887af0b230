package secret

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fuzzNonces gives deterministic nonces so the valid values, and so any
// failure the fuzzer records, are the same on every run.
func fuzzNonces(b byte) *bytes.Reader {
	return bytes.NewReader(bytes.Repeat([]byte{b}, nonceSize))
}

// FuzzOpen checks that Open never panics and that only the exact values
// Seal produced open; any edit must be refused.
func FuzzOpen(f *testing.F) {
	kr := testKeyring(f, "k1", "k2")
	valid := map[string]string{} // sealed -> plaintext
	for i, plaintext := range []string{"", "s", "a client secret", strings.Repeat("x", 300)} {
		sealed, err := kr.seal([]byte(plaintext), testLoc, fuzzNonces(byte(i)))
		if err != nil {
			f.Fatal(err)
		}
		valid[sealed] = plaintext
		f.Add(sealed)
		f.Add(strings.Replace(sealed, ":k1:", ":k2:", 1))
		f.Add(sealed[:len(sealed)-1])
		f.Add(sealed + "A")
		f.Add(flipTagChar(sealed))
	}
	for _, s := range []string{"", "pst:v1:", "pst:v1:k1:", "pst:v1:k9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"pst:v2:k1:AAAA", "pst:v1::AAAA", "plaintext", "pst:v1:k1:====", "pst:v1:k1:\n\r"} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, sealed string) {
		got, err := kr.Open(sealed, testLoc)
		if err == nil {
			want, ok := valid[sealed]
			if !ok {
				t.Fatalf("Open accepted a value Seal never produced: %q -> %q", sealed, got)
			}
			if string(got) != want {
				t.Fatalf("Open(%q) = %q, want %q", sealed, got, want)
			}
			return
		}
		if got != nil {
			t.Fatalf("Open returned plaintext %q with error %v", got, err)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuth) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Open error %v matches none of the sentinel errors", err)
		}
		if _, kerr := KeyID(sealed); (kerr == nil) != !errors.Is(err, ErrMalformed) {
			t.Fatalf("KeyID error %v disagrees with Open error %v", kerr, err)
		}
	})
}
