package auth_test

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"postern/internal/auth"
)

var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	return h
}

func TestHashPasswordFormat(t *testing.T) {
	h := mustHash(t, "correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("hash = %q, want prefix $argon2id$v=19$", h)
	}
	m := phc.FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("hash = %q, not a PHC argon2id string", h)
	}
	mem, _ := strconv.Atoi(m[1])
	passes, _ := strconv.Atoi(m[2])
	lanes, _ := strconv.Atoi(m[3])
	if mem < 19456 {
		t.Errorf("m = %d, want >= 19456 KiB", mem)
	}
	if passes < 2 {
		t.Errorf("t = %d, want >= 2", passes)
	}
	if lanes < 1 {
		t.Errorf("p = %d, want >= 1", lanes)
	}
	salt, err := base64.RawStdEncoding.DecodeString(m[4])
	if err != nil || len(salt) < 16 {
		t.Errorf("salt = %q (%d bytes, %v), want >= 16 random bytes", m[4], len(salt), err)
	}
	key, err := base64.RawStdEncoding.DecodeString(m[5])
	if err != nil || len(key) < 32 {
		t.Errorf("key = %q (%d bytes, %v), want >= 32 bytes", m[5], len(key), err)
	}
	if strings.Contains(h, "correct horse") {
		t.Errorf("hash %q contains the password", h)
	}
}

func TestHashPasswordSaltsEveryHash(t *testing.T) {
	const pw = "same password twice"
	h1, h2 := mustHash(t, pw), mustHash(t, pw)
	if h1 == h2 {
		t.Fatalf("two hashes of one password are equal (%q): no random salt", h1)
	}
	for _, h := range []string{h1, h2} {
		if err := auth.VerifyPassword(h, pw); err != nil {
			t.Errorf("VerifyPassword(%q) = %v, want nil", h, err)
		}
	}
}

func TestVerifyPassword(t *testing.T) {
	const pw = "correct horse battery staple"
	h := mustHash(t, pw)
	if err := auth.VerifyPassword(h, pw); err != nil {
		t.Errorf("right password: %v, want nil", err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", pw + " ", "Correct horse battery staple", pw + pw} {
		if err := auth.VerifyPassword(h, wrong); !errors.Is(err, auth.ErrMismatch) {
			t.Errorf("VerifyPassword(hash, %q) = %v, want ErrMismatch", wrong, err)
		}
	}
}

// A long password must not be truncated (bcrypt stops at 72 bytes).
func TestVerifyPasswordUsesWholePassword(t *testing.T) {
	long := strings.Repeat("a", 100)
	h := mustHash(t, long)
	if err := auth.VerifyPassword(h, long+"b"); !errors.Is(err, auth.ErrMismatch) {
		t.Errorf("VerifyPassword with a 101st byte added = %v, want ErrMismatch", err)
	}
	if err := auth.VerifyPassword(h, long[:72]); !errors.Is(err, auth.ErrMismatch) {
		t.Errorf("VerifyPassword with the first 72 bytes = %v, want ErrMismatch", err)
	}
}

func TestVerifyPasswordMalformedHash(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"plain text", "hunter2"},
		{"only dollars", "$$$$$"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key},
		{"too few parts", "$argon2id$v=19$m=19456,t=2,p=1$" + salt},
		{"too many parts", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$x"},
		{"m zero", "$argon2id$v=19$m=0,t=2,p=1$" + salt + "$" + key},
		{"t zero", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key},
		{"p zero", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key},
		{"p overflow", "$argon2id$v=19$m=19456,t=2,p=256$" + salt + "$" + key},
		{"m overflow", "$argon2id$v=19$m=99999999999,t=2,p=1$" + salt + "$" + key},
		{"negative m", "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key},
		{"params garbled", "$argon2id$v=19$memory=19456$" + salt + "$" + key},
		{"params missing", "$argon2id$v=19$$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key},
		{"key not base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$%%%%"},
		{"key empty", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$"},
		{"padded base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key + "="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("VerifyPassword(%q) panicked: %v", tc.hash, p)
					}
				}()
				err = auth.VerifyPassword(tc.hash, "correct horse battery staple")
			}()
			if err == nil {
				t.Fatalf("VerifyPassword(%q) = nil, want an error", tc.hash)
			}
			if errors.Is(err, auth.ErrMismatch) {
				t.Errorf("VerifyPassword(%q) = ErrMismatch, want a malformed-hash error (a broken row is not a wrong password)", tc.hash)
			}
		})
	}
}

func TestMultiBytePasswords(t *testing.T) {
	for _, tc := range []struct{ name, pw string }{
		{"cyrillic", strings.Repeat("ж", 64)},
		{"emoji", strings.Repeat("🔐", 64)},
		{"mixed", strings.Repeat("aж🔐é", 16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := len([]rune(tc.pw)); n != 64 {
				t.Fatalf("test password has %d runes, want 64", n)
			}
			if msg := auth.CheckPasswordPolicy(tc.pw); msg != "" {
				t.Errorf("CheckPasswordPolicy = %q, want accepted", msg)
			}
			h := mustHash(t, tc.pw)
			if err := auth.VerifyPassword(h, tc.pw); err != nil {
				t.Errorf("VerifyPassword(right) = %v, want nil", err)
			}
			short := string([]rune(tc.pw)[:63])
			if err := auth.VerifyPassword(h, short); !errors.Is(err, auth.ErrMismatch) {
				t.Errorf("VerifyPassword(63 runes) = %v, want ErrMismatch", err)
			}
		})
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	const (
		short   = "at least"
		long    = "shorter"
		invalid = "ordinary text"
	)
	for _, tc := range []struct {
		name, pw string
		want     string // "" accepted, else a fragment of the message
	}{
		{"empty", "", short},
		{"11 ascii", "abcdefghijk", short},
		{"12 ascii", "abcdefghijkl", ""},
		{"11 multi-byte runes (22 bytes)", strings.Repeat("ж", 11), short},
		{"exactly 12 multi-byte runes", strings.Repeat("ж", 12), ""},
		{"exactly 12 emoji", strings.Repeat("🔐", 12), ""},
		{"1024 bytes", strings.Repeat("a", 1024), ""},
		{"1024 bytes of 4-byte runes", strings.Repeat("🔐", 256), ""},
		{"1025 bytes", strings.Repeat("a", 1025), long},
		{"1028 bytes of 4-byte runes", strings.Repeat("🔐", 257), long},
		{"invalid utf-8", "abcdefghijkl\xff", invalid},
		{"lone continuation byte", "\x80abcdefghijklmnop", invalid},
		{"truncated rune", "abcdefghijklm" + "\xe2\x82", invalid},
		{"spaces count", "            ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := auth.CheckPasswordPolicy(tc.pw)
			switch {
			case tc.want == "" && got != "":
				t.Errorf("CheckPasswordPolicy(%d bytes) = %q, want accepted", len(tc.pw), got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("CheckPasswordPolicy(%d bytes) = %q, want a message containing %q", len(tc.pw), got, tc.want)
			}
		})
	}
	if got := auth.CheckPasswordPolicy("short"); !strings.Contains(got, strconv.Itoa(auth.MinPasswordLen)) {
		t.Errorf("short-password message %q does not name the minimum %d", got, auth.MinPasswordLen)
	}
}

func TestVerifyNothingAlwaysFails(t *testing.T) {
	for _, pw := range []string{"", "anything at all", "postern-dummy-password"} {
		if err := auth.VerifyNothing(pw); !errors.Is(err, auth.ErrMismatch) {
			t.Errorf("VerifyNothing(%q) = %v, want ErrMismatch", pw, err)
		}
	}
}
