package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// prefix starts every sealed value; the version lets a later format
// coexist with this one.
const prefix = "pst:v1:"

const (
	nonceSize = 12
	tagSize   = 16
)

// maxSealedLen bounds the input Open will look at. Stored secrets are
// short; anything this large is not one of ours.
const maxSealedLen = 1 << 20

var (
	// ErrMalformed means the value is not in the pst:v1 format at all, for
	// example a plaintext that was never sealed or a truncated copy.
	ErrMalformed = errors.New("secret: malformed sealed value")
	// ErrUnknownKey means the value names a key id the keyring lacks: the
	// key was retired too early or the wrong key file is in use.
	ErrUnknownKey = errors.New("secret: unknown key id")
	// ErrAuth means the value was altered, sealed for another location, or
	// sealed under a different key with the same id.
	ErrAuth = errors.New("secret: message authentication failed")
)

// unknownKeyError names the missing key id, so a start-up check can tell
// the operator which key to restore.
type unknownKeyError struct{ id string }

func (e *unknownKeyError) Error() string {
	return fmt.Sprintf("secret: key id %q is not in the keyring", e.id)
}

func (e *unknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// Location says where a sealed value is stored. It is bound into the
// ciphertext, so a value copied to another row, column or table fails to
// open instead of silently becoming someone else's secret.
type Location struct {
	Table  string
	Column string
	Row    string
}

// check refuses locations that would make the AAD ambiguous or that leave
// the value unbound. Row comes last in the AAD, so only Table and Column
// must be free of the separator.
func (loc Location) check() error {
	if loc.Table == "" || loc.Column == "" || loc.Row == "" {
		return errors.New("secret: location needs a table, a column and a row")
	}
	if strings.Contains(loc.Table, "|") || strings.Contains(loc.Column, "|") {
		return errors.New("secret: location table and column must not contain '|'")
	}
	return nil
}

// aad authenticates the header together with the location, so editing the
// key id in a stored value also fails authentication.
func aad(keyID string, loc Location) []byte {
	return []byte(prefix + keyID + ":" + "|" + loc.Table + "|" + loc.Column + "|" + loc.Row)
}

// Seal encrypts plaintext under the active key for storage at loc. Each
// call uses a fresh random nonce, so sealing the same value twice gives
// different outputs and no nonce counter has to survive a backup restore.
func (kr *Keyring) Seal(plaintext []byte, loc Location) (string, error) {
	return kr.seal(plaintext, loc, rand.Reader)
}

// seal takes its nonce source as a parameter so tests can build fixed
// ciphertexts; production code always passes crypto/rand.
func (kr *Keyring) seal(plaintext []byte, loc Location, nonces io.Reader) (string, error) {
	if kr == nil {
		return "", errors.New("secret: nil keyring")
	}
	if err := loc.check(); err != nil {
		return "", err
	}
	aead := kr.aeads[kr.active]
	buf := make([]byte, nonceSize, nonceSize+len(plaintext)+aead.Overhead())
	if _, err := io.ReadFull(nonces, buf); err != nil {
		return "", fmt.Errorf("secret: nonce: %w", err)
	}
	sealed := aead.Seal(buf, buf[:nonceSize], plaintext, aad(kr.active, loc))
	return prefix + kr.active + ":" + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open decrypts a value produced by Seal for the same loc. It accepts only
// the exact pst:v1 form and never panics, whatever the input. Errors never
// quote the input, which might be a plaintext stored by mistake.
func (kr *Keyring) Open(sealed string, loc Location) ([]byte, error) {
	if kr == nil {
		return nil, errors.New("secret: nil keyring")
	}
	if err := loc.check(); err != nil {
		return nil, err
	}
	id, payload, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := kr.aeads[id]
	if !ok {
		return nil, &unknownKeyError{id: id}
	}
	nonce, ciphertext := payload[:nonceSize], payload[nonceSize:]
	plaintext, err := aead.Open(nil, nonce, ciphertext, aad(id, loc))
	if err != nil {
		return nil, fmt.Errorf("%w (key id %q, %s.%s row %q)", ErrAuth, id, loc.Table, loc.Column, loc.Row)
	}
	return plaintext, nil
}

// KeyID reports which key sealed a value without decrypting it, so
// rotation can find values still under an old key and retiring a key can
// check that none remain.
func KeyID(sealed string) (string, error) {
	id, _, err := parse(sealed)
	return id, err
}

// parse splits a sealed value into its key id and decoded payload. It is
// strict: one spelling per payload, no padding, no whitespace.
func parse(sealed string) (id string, payload []byte, err error) {
	if len(sealed) > maxSealedLen {
		return "", nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxSealedLen)
	}
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		if strings.HasPrefix(sealed, "pst:") {
			return "", nil, fmt.Errorf("%w: unsupported format version", ErrMalformed)
		}
		return "", nil, fmt.Errorf("%w: missing %q prefix", ErrMalformed, prefix)
	}
	id, encoded, ok := strings.Cut(rest, ":")
	if !ok {
		return "", nil, fmt.Errorf("%w: missing key id separator", ErrMalformed)
	}
	if !validKeyID(id) {
		return "", nil, fmt.Errorf("%w: key id must be 1 to %d characters of a-z and 0-9", ErrMalformed, maxKeyIDLen)
	}
	if !isBase64URL(encoded) {
		return "", nil, fmt.Errorf("%w: payload is not unpadded base64url", ErrMalformed)
	}
	payload, err = base64.RawURLEncoding.Strict().DecodeString(encoded)
	if err != nil {
		return "", nil, fmt.Errorf("%w: payload is not unpadded base64url", ErrMalformed)
	}
	if len(payload) < nonceSize+tagSize {
		return "", nil, fmt.Errorf("%w: payload is %d bytes, shorter than nonce and tag", ErrMalformed, len(payload))
	}
	return id, payload, nil
}

// isBase64URL checks the alphabet by hand because the decoder skips CR and
// LF, which would let two spellings of one value both open.
func isBase64URL(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// Stored is a sealed value as it is stored, with where: its Location is
// the one it was sealed for.
type Stored struct {
	Location
	Value string
}
