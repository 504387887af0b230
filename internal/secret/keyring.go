// Package secret keeps secrets at rest encrypted: it loads the master
// keyring, seals values with AES-256-GCM bound to the row and column that
// store them, and offers a string type that refuses to print itself.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// KeySize is the length of a master key. Anything else is refused, so a
// passphrase or a truncated paste cannot become a weak key by accident.
const KeySize = 32

// encryptionInfo is the HKDF info string for the secret-encryption sub-key.
// Separate info strings keep each purpose on its own key.
const encryptionInfo = "postern/secret-encryption/v1"

// maxKeyIDLen bounds key ids so that they stay short in headers and errors.
const maxKeyIDLen = 32

// masterKey is a master key; the keyring holds it by pointer so copies of
// a Keyring share rather than duplicate key bytes.
type masterKey [KeySize]byte

// Keyring holds the master keys by id and says which one seals new values.
// Older keys stay so that values sealed before a rotation still open. A
// Keyring is immutable once built, so it is safe for concurrent use.
type Keyring struct {
	active string
	keys   map[string]*masterKey
	aeads  map[string]cipher.AEAD // derived once, not per Seal/Open
}

// newKeyring checks ids and derives each key's AEAD. It copies nothing: the
// caller hands over ownership of keys.
func newKeyring(active string, keys map[string]*masterKey) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("secret: keyring has no keys")
	}
	kr := &Keyring{active: active, keys: keys, aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if !validKeyID(id) {
			return nil, fmt.Errorf("secret: key id %q must be 1 to %d characters of a-z and 0-9", id, maxKeyIDLen)
		}
		aead, err := encryptionAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("secret: key %q: %w", id, err)
		}
		kr.aeads[id] = aead
	}
	if _, ok := keys[active]; !ok {
		return nil, fmt.Errorf("secret: active key id %q is not in the keyring", active)
	}
	return kr, nil
}

// encryptionAEAD derives the secret-encryption sub-key from a master key so
// the master itself is never used directly as a cipher key.
func encryptionAEAD(master *masterKey) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sha256.New, master[:], nil, encryptionInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive encryption key: %w", err)
	}
	block, err := aes.NewCipher(sub)
	clear(sub)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// validKeyID reports whether id fits the header grammar [a-z0-9]+.
func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ActiveID names the key that seals new values.
func (kr *Keyring) ActiveID() string {
	if kr == nil {
		return ""
	}
	return kr.active
}

// IDs lists every key id in natural order (k2 before k10), for status
// output and retire checks.
func (kr *Keyring) IDs() []string {
	if kr == nil {
		return nil
	}
	return slices.SortedFunc(maps.Keys(kr.keys), compareKeyIDs)
}

// Has reports whether values sealed under id can be opened.
func (kr *Keyring) Has(id string) bool {
	if kr == nil {
		return false
	}
	_, ok := kr.keys[id]
	return ok
}

// String describes the keyring by ids only, so it is safe to log.
func (kr *Keyring) String() string {
	if kr == nil {
		return "keyring(nil)"
	}
	return fmt.Sprintf("keyring(active=%s, keys=[%s])", kr.active, strings.Join(kr.IDs(), " "))
}

// Format makes every fmt verb, including %d, %x and %#v on a Keyring value,
// print the String form. Without it fmt's reflective fallback would dump
// the key bytes and the derived cipher state.
func (kr Keyring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, kr.String()) }

// LogValue makes slog show ids only, never key bytes.
func (kr *Keyring) LogValue() slog.Value {
	if kr == nil {
		return slog.StringValue("keyring(nil)")
	}
	return slog.GroupValue(slog.String("active", kr.active), slog.Any("keys", kr.IDs()))
}

// WithNewKey is the first step of a rotation: it returns a copy with a
// fresh random key under the next id, made active. The receiver is left
// unchanged so a failed rotation can fall back to it.
func (kr *Keyring) WithNewKey() (*Keyring, string, error) {
	if kr == nil {
		return nil, "", errors.New("secret: nil keyring")
	}
	id := kr.nextID()
	key := new(masterKey)
	if _, err := rand.Read(key[:]); err != nil {
		return nil, "", fmt.Errorf("secret: generate key: %w", err)
	}
	keys := maps.Clone(kr.keys)
	keys[id] = key
	next, err := newKeyring(id, keys)
	if err != nil {
		return nil, "", err
	}
	return next, id, nil
}

// WithStagedKey is the first phase of a rotation across replicas: it
// returns a copy holding a fresh random key under the next id, not yet
// active, so that every replica can be given it before anything is sealed
// under it. The receiver is left unchanged.
func (kr *Keyring) WithStagedKey() (*Keyring, string, error) {
	next, id, err := kr.WithNewKey()
	if err != nil {
		return nil, "", err
	}
	staged, err := newKeyring(kr.active, next.keys)
	if err != nil {
		return nil, "", err
	}
	return staged, id, nil
}

// WithActive returns a copy in which id, already held, seals new values:
// the second phase of a rotation across replicas.
func (kr *Keyring) WithActive(id string) (*Keyring, error) {
	if kr == nil {
		return nil, errors.New("secret: nil keyring")
	}
	if !kr.Has(id) {
		return nil, &unknownKeyError{id: id}
	}
	return newKeyring(id, maps.Clone(kr.keys))
}

// Without returns a copy that no longer holds id, for retiring a key once
// no stored value references it. The active key cannot be removed because
// new values would have nothing to seal with.
func (kr *Keyring) Without(id string) (*Keyring, error) {
	if kr == nil {
		return nil, errors.New("secret: nil keyring")
	}
	if !kr.Has(id) {
		return nil, &unknownKeyError{id: id}
	}
	if id == kr.active {
		return nil, fmt.Errorf("secret: key %q is the active key and cannot be removed", id)
	}
	keys := maps.Clone(kr.keys)
	delete(keys, id)
	return newKeyring(kr.active, keys)
}

// nextID returns k<n+1> where n is the highest numbered k-id in use.
func (kr *Keyring) nextID() string {
	highest := 0
	for id := range kr.keys {
		if n, ok := keyNumber(id); ok && n > highest {
			highest = n
		}
	}
	return "k" + strconv.Itoa(highest+1)
}

// keyNumber parses ids of the form k<digits>.
func keyNumber(id string) (int, bool) {
	digits, ok := strings.CutPrefix(id, "k")
	if !ok || digits == "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n >= 0
}

// compareKeyIDs orders k<n> ids by number and everything else by text.
func compareKeyIDs(a, b string) int {
	na, okA := keyNumber(a)
	nb, okB := keyNumber(b)
	if okA && okB && na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

// keyringJSON is the on-disk and env form of a keyring with several keys.
type keyringJSON struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
}

// marshal encodes the keyring in its JSON form. The result holds key
// material; callers clear it after use.
func (kr *Keyring) marshal() ([]byte, error) {
	out := keyringJSON{Active: kr.active, Keys: make(map[string]string, len(kr.keys))}
	for id, key := range kr.keys {
		out.Keys[id] = base64.StdEncoding.EncodeToString(key[:])
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("secret: encode keyring: %w", err)
	}
	return append(data, '\n'), nil
}

// parseJSONKeyring reads the JSON keyring form. Its errors name the source
// and key ids but never echo the input, which holds key material.
func parseJSONKeyring(source string, data []byte) (*Keyring, error) {
	var in keyringJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("secret: %s is not a valid JSON keyring (%s)", source, jsonProblem(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("secret: %s is not a valid JSON keyring (trailing data)", source)
	}
	if in.Active == "" {
		return nil, fmt.Errorf("secret: %s keyring has no \"active\" key id", source)
	}
	if len(in.Keys) == 0 {
		return nil, fmt.Errorf("secret: %s keyring has no \"keys\"", source)
	}
	keys := make(map[string]*masterKey, len(in.Keys))
	for id, encoded := range in.Keys {
		if !validKeyID(id) {
			return nil, fmt.Errorf("secret: %s keyring: key id %q must be 1 to %d characters of a-z and 0-9", source, id, maxKeyIDLen)
		}
		key, err := decodeKey(encoded)
		if err != nil {
			return nil, fmt.Errorf("secret: %s keyring: key %q must be base64 of exactly %d bytes (%w)", source, id, KeySize, err)
		}
		keys[id] = key
	}
	if _, ok := keys[in.Active]; !ok {
		return nil, fmt.Errorf("secret: %s keyring: active key id %q is not among its keys", source, in.Active)
	}
	return newKeyring(in.Active, keys)
}

// jsonProblem describes a JSON error by position or kind only: the
// standard messages can quote input characters.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("syntax error at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	default:
		return "unexpected structure"
	}
}

// decodeKey accepts base64 in the standard or URL alphabet, padded or not,
// because keys get pasted from many tools. Its errors hold sizes only.
func decodeKey(s string) (*masterKey, error) {
	s = strings.TrimSpace(s)
	encodings := []*base64.Encoding{
		base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding,
	}
	for _, enc := range encodings {
		raw, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		n := len(raw)
		key := new(masterKey)
		copy(key[:], raw)
		clear(raw)
		if n != KeySize {
			return nil, fmt.Errorf("got %d bytes", n)
		}
		return key, nil
	}
	return nil, errors.New("not valid base64")
}
