package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"postern/store"
)

// API tokens look like pst_<52 base32 characters>: 256 random bits. The
// first tokenPrefixLen characters identify a token in lists and lookups.
const (
	tokenScheme    = "pst_"
	tokenPrefixLen = 12
)

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewAPIToken returns a fresh token, its prefix and its hash.
func NewAPIToken() (token, prefix string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", nil, err
	}
	token = tokenScheme + strings.ToLower(tokenEncoding.EncodeToString(b))
	sum := sha256.Sum256([]byte(token))
	return token, token[:tokenPrefixLen], sum[:], nil
}

type tokenEntry struct {
	id   int64
	hash []byte
}

// Tokens verifies API tokens from memory: the enforcement API's hot path
// makes no database query. Last use is recorded in memory and written in
// batches by Run.
type Tokens struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time

	active atomic.Pointer[map[string]tokenEntry] // prefix → entry

	mu   sync.Mutex
	used map[int64]time.Time
}

// NewTokens loads the active tokens.
func NewTokens(ctx context.Context, st *store.Store, log *slog.Logger, now func() time.Time) (*Tokens, error) {
	if now == nil {
		now = time.Now
	}
	t := &Tokens{store: st, log: log, now: now, used: map[int64]time.Time{}}
	return t, t.Reload(ctx)
}

// Reload re-reads the active tokens; call it after creating or revoking one.
func (t *Tokens) Reload(ctx context.Context) error {
	all, err := t.store.APITokens(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]tokenEntry, len(all))
	for _, tok := range all {
		if tok.RevokedAt == nil {
			m[tok.Prefix] = tokenEntry{id: tok.ID, hash: tok.Hash}
		}
	}
	t.active.Store(&m)
	return nil
}

// Verify returns the id of the active token presented, or false.
func (t *Tokens) Verify(token string) (int64, bool) {
	if len(token) < tokenPrefixLen || !strings.HasPrefix(token, tokenScheme) || len(token) > 128 {
		return 0, false
	}
	e, ok := (*t.active.Load())[token[:tokenPrefixLen]]
	if !ok {
		return 0, false
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], e.hash) != 1 {
		return 0, false
	}
	t.mu.Lock()
	t.used[e.id] = t.now().UTC()
	t.mu.Unlock()
	return e.id, true
}

// Run writes last-use times every interval until ctx ends, then once more.
func (t *Tokens) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Flush(context.WithoutCancel(ctx))
			return
		case <-tick.C:
			t.Flush(ctx)
		}
	}
}

// Flush writes pending last-use times.
func (t *Tokens) Flush(ctx context.Context) {
	t.mu.Lock()
	used := t.used
	t.used = map[int64]time.Time{}
	t.mu.Unlock()
	if err := t.store.TouchAPITokens(ctx, used); err != nil {
		t.log.Warn("record API token use", "err", err)
	}
}
