package secret

import (
	"bytes"
	"testing"
)

// testLoc is where most test values pretend to be stored.
var testLoc = Location{Table: "integrations", Column: "client_secret", Row: "defender"}

// fixedKey returns a deterministic key whose every byte is b, so tests can
// look for its bytes in output.
func fixedKey(b byte) *masterKey {
	key := new(masterKey)
	copy(key[:], bytes.Repeat([]byte{b}, KeySize))
	return key
}

// testKeyring builds a keyring from fixed keys; ids[0] is active and key
// bytes are 0xA0+index.
func testKeyring(t testing.TB, ids ...string) *Keyring {
	t.Helper()
	keys := make(map[string]*masterKey, len(ids))
	for i, id := range ids {
		keys[id] = fixedKey(0xA0 + byte(i))
	}
	kr, err := newKeyring(ids[0], keys)
	if err != nil {
		t.Fatalf("newKeyring(%v): %v", ids, err)
	}
	return kr
}

// mustSeal seals or stops the test.
func mustSeal(t testing.TB, kr *Keyring, plaintext string, loc Location) string {
	t.Helper()
	sealed, err := kr.Seal([]byte(plaintext), loc)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

// mustOpen opens or stops the test.
func mustOpen(t testing.TB, kr *Keyring, sealed string, loc Location) string {
	t.Helper()
	got, err := kr.Open(sealed, loc)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return string(got)
}
