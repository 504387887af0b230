// Package auth holds what proves an admin is who they say: argon2id password
// hashes, the login rate limiter and the server-side session store.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane)
// keeps a sign-in near 30 ms on a small server.
const (
	argonMemory  = 19456
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Password length rules. The upper bound is in bytes and only stops abuse of
// the hash function; 64 multi-byte characters fit easily.
const (
	MinPasswordLen   = 12
	MaxPasswordBytes = 1024
)

// hashSlots bounds how many argon2 computations run at once: each takes
// about 19 MiB, so a burst of sign-ins queues instead of exhausting memory.
var hashSlots = make(chan struct{}, max(2, runtime.NumCPU()))

func argonKey(pw, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(pw, salt, t, m, p, n)
}

// ErrMismatch means the password does not match the hash.
var ErrMismatch = errors.New("auth: password does not match")

// CheckPasswordPolicy returns a message fit for the form, or "".
func CheckPasswordPolicy(pw string) string {
	switch {
	case !utf8.ValidString(pw):
		return "Use a password made of ordinary text characters."
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Sprintf("Use at least %d characters.", MinPasswordLen)
	case len(pw) > MaxPasswordBytes:
		return "Use a shorter password (at most 1,024 bytes)."
	}
	return ""
}

// HashPassword returns a PHC-format argon2id hash with a random salt.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argonKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// VerifyPassword checks pw against a PHC argon2id hash in constant time. It
// honours the parameters stored in the hash, so raising them later does not
// lock anyone out.
func VerifyPassword(encoded, pw string) error {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("auth: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("auth: unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	// Bounds stop a corrupted or planted hash from asking for terabytes.
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil ||
		m == 0 || m > 1<<20 || t == 0 || t > 10 || p == 0 || p > 16 {
		return errors.New("auth: bad argon2 parameters")
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return errors.New("auth: bad salt")
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return errors.New("auth: bad key")
	}
	got := argonKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// dummyHash is verified against when the account does not exist, so an
// unknown email costs the same time as a wrong password.
var dummyHash = func() string {
	h, err := HashPassword("postern-dummy-password")
	if err != nil {
		panic(err)
	}
	return h
}()

// VerifyNothing spends the time of one verification and always fails.
func VerifyNothing(pw string) error {
	VerifyPassword(dummyHash, pw)
	return ErrMismatch
}
