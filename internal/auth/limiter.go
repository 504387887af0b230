package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"postern/internal/apperr"
)

// Limiter counts failed sign-ins per key (an account, a client address, an
// admin's two-factor codes) in a sliding window. Once a key reaches its
// limit, attempts are refused until its oldest failure in the window
// leaves it. Successful sign-ins reset only the account key, so one good
// password cannot clear an attacker's address.
//
// The failures live in the database (FailureStore), shared by every
// replica: two replicas behind a load balancer give an attacker no more
// attempts than one, and a lock-out on one is a lock-out on all. Keys are
// stored as SHA-256 hashes (keyHash), never as emails or addresses.
type Limiter struct {
	db     FailureStore
	max    int
	window time.Duration
	now    func() time.Time
}

// FailureStore keeps the limiter's failures (the store's login_failures).
// Each method is atomic across every process sharing the database.
type FailureStore interface {
	// LoginAttempt forgets failures at or before since; when max > 0 and
	// a key has max failures after since, it records nothing and returns
	// the failure that holds the limit; otherwise, when record, it counts
	// a failure at now against every key and returns the zero time.
	LoginAttempt(ctx context.Context, keys [][]byte, max int, since, now time.Time, record bool) (time.Time, error)
	// RefundLoginFailure takes back the most recent failure of each key.
	RefundLoginFailure(ctx context.Context, keys [][]byte) error
	// ResetLoginFailures forgets every failure of key.
	ResetLoginFailures(ctx context.Context, key []byte) error
}

// NewLimiter allows max failures per key within window, kept in db.
func NewLimiter(db FailureStore, max int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{db: db, max: max, window: window, now: now}
}

// limiterDown wraps the database's error when the limiter cannot count:
// sign-in fails closed (an attempt that cannot be counted is refused), and
// the error says why (apperr.Unavailable).
func limiterDown(err error) error {
	return apperr.Wrap(fmt.Errorf("auth: login limiter: %w", err), apperr.Unavailable,
		"Sign-in is unavailable: the database does not answer. Try again in a minute.")
}

// Attempt reports whether an attempt may proceed for every key, and if
// not, how long until it may; when allowed, the attempt counts as a
// failure at once, so parallel requests (on any replica) cannot all
// slip under the limit while their passwords are checked. Refund it if
// the attempt succeeds. An error (the database does not answer) refuses
// the attempt: the caller says sign-in is unavailable.
func (l *Limiter) Attempt(ctx context.Context, keys ...string) (bool, time.Duration, error) {
	return l.ask(ctx, keys, l.max, true)
}

func (l *Limiter) ask(ctx context.Context, keys []string, max int, record bool) (bool, time.Duration, error) {
	now := l.now()
	held, err := l.db.LoginAttempt(ctx, hashKeys(keys), max, now.Add(-l.window), now, record)
	if err != nil {
		return false, 0, limiterDown(err)
	}
	if held.IsZero() {
		return true, 0, nil
	}
	// held is after now-window: the wait is positive.
	return false, held.Add(l.window).Sub(now), nil
}

// Refund takes back the most recent failure of each key.
func (l *Limiter) Refund(ctx context.Context, keys ...string) error {
	if err := l.db.RefundLoginFailure(ctx, hashKeys(keys)); err != nil {
		return limiterDown(err)
	}
	return nil
}

// Reset forgets the failures of key.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.db.ResetLoginFailures(ctx, keyHash(key)); err != nil {
		return limiterDown(err)
	}
	return nil
}

// keyHash is what the database stores of a limiter key: SHA-256 under a
// fixed prefix, so that no email or client address is kept in clear. (An
// email is guessable, so the hash hides it from a casual reader of the
// table or a backup, not from someone testing candidate addresses.)
func keyHash(k string) []byte {
	h := sha256.Sum256([]byte("postern login limiter\x00" + k))
	return h[:]
}

func hashKeys(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = keyHash(k)
	}
	return out
}

// AddressKey is the limiter key of a client address. IPv6 clients are
// grouped by /64, the block one subscriber usually holds, so rotating
// addresses within it does not buy fresh attempts.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "ip:" + ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// SecondFactorKey is the limiter key of an admin's second factor: the code
// step, a passkey at sign-in, and the account actions that ask for the code
// or password again share it, so no one of them buys fresh attempts.
func SecondFactorKey(adminID int64) string {
	return "mfa:" + strconv.FormatInt(adminID, 10)
}
