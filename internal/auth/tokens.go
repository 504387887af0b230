package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
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

// TokenStore is what Tokens needs of the database; a refused change is
// recorded on its own with AppendAudit.
type TokenStore interface {
	AppendAudit(ctx context.Context, e audit.Entry) error
	APITokens(ctx context.Context) ([]model.APIToken, error)
	CreateAPIToken(ctx context.Context, t model.APIToken, e audit.Entry) (model.APIToken, error)
	RevokeAPIToken(ctx context.Context, id int64, e audit.Entry) (model.APIToken, error)
	TouchAPITokens(ctx context.Context, used map[int64]time.Time) error
}

type tokenEntry struct {
	id      int64
	hash    []byte
	source  string
	scopes  scopeSet
	expires time.Time // zero: never
}

// Tokens verifies API tokens from memory: the enforcement API's hot path
// makes no database query. Last use is recorded in memory and written in
// batches by Run.
type Tokens struct {
	store TokenStore
	log   *slog.Logger
	now   func() time.Time

	active atomic.Pointer[map[string]tokenEntry] // prefix → entry

	mu   sync.Mutex
	used map[int64]time.Time
}

// NewTokens loads the active tokens.
func NewTokens(ctx context.Context, st TokenStore, log *slog.Logger, now func() time.Time) (*Tokens, error) {
	if now == nil {
		now = time.Now
	}
	t := &Tokens{store: st, log: log, now: now, used: map[int64]time.Time{}}
	return t, t.Reload(ctx)
}

// MaxTokenName is the longest token name, in characters.
const MaxTokenName = 80

// Create makes the token r asks for and returns it: the only time it is
// ever seen, since only its hash is stored. The token works at once. A
// name that is empty, too long or used by an active token, an unknown
// identity source, no scope or an unknown one, and an expiry that is not
// one of model.TokenExpiries (or a date that is not in the future, or too
// far) are refused with apperr.Fields ("name", "identity_source",
// "scopes", "expires") and audited as a failure. The audit entry says the
// scopes and the expiry.
func (t *Tokens) Create(ctx context.Context, r TokenRequest) (string, model.APIToken, error) {
	a, err := audit.Allowed(ctx, t.store, t.log, actor.Owner, audit.APITokenCreated, r.Name)
	if err != nil {
		return "", model.APIToken{}, err
	}
	e := audit.As(a, audit.APITokenCreated, r.Name)
	row, problems := t.checkRequest(r)
	if problems != nil {
		return "", model.APIToken{}, t.refuse(ctx, e, apperr.Fields(problems))
	}
	token, prefix, hash, err := NewAPIToken()
	if err != nil {
		return "", model.APIToken{}, err
	}
	e.Target = r.Name + " (" + prefix + "…)"
	e.Detail = TokenDetail(row)
	row.Prefix, row.Hash, row.CreatedBy = prefix, hash, a.Email
	row, err = t.store.CreateAPIToken(ctx, row, e)
	if apperr.Is(err, apperr.Conflict) {
		taken := apperr.Fields(map[string]string{"name": msgTokenNameTaken})
		taken.Err = err
		e.Target = r.Name
		return "", row, t.refuse(ctx, e, taken)
	}
	if err != nil {
		return "", row, err
	}
	return token, row, t.Reload(ctx)
}

const msgTokenNameTaken = "An active token already has this name."

// CheckTokenName says what is wrong with a token name, or "".
func CheckTokenName(name string) string {
	switch {
	case name == "":
		return "Name the token after the gateway that will use it."
	case utf8.RuneCountInString(name) > MaxTokenName || !utf8.ValidString(name):
		return "Use at most 80 characters."
	}
	return ""
}

// Revoke revokes token id at once: the next request that presents it is
// refused. An unknown token, or one already revoked, is NotFound, audited
// as a failure.
func (t *Tokens) Revoke(ctx context.Context, id int64) (model.APIToken, error) {
	a, err := audit.Allowed(ctx, t.store, t.log, actor.Owner, audit.APITokenRevoked, strconv.FormatInt(id, 10))
	if err != nil {
		return model.APIToken{}, err
	}
	row, err := t.store.RevokeAPIToken(ctx, id, audit.As(a, audit.APITokenRevoked, ""))
	if apperr.Is(err, apperr.NotFound) {
		return row, t.refuse(ctx, audit.As(a, audit.APITokenRevoked, strconv.FormatInt(id, 10)), err)
	}
	if err != nil {
		return row, err
	}
	return row, t.Reload(ctx)
}

// refuse records err, the refusal of e's change, and returns it.
func (t *Tokens) refuse(ctx context.Context, e audit.Entry, err error) error {
	return audit.RecordRefusal(ctx, t.store, t.log, e, err)
}

// Reload re-reads the active tokens.
func (t *Tokens) Reload(ctx context.Context) error {
	all, err := t.store.APITokens(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]tokenEntry, len(all))
	for _, tok := range all {
		if tok.RevokedAt == nil {
			e := tokenEntry{id: tok.ID, hash: tok.Hash, source: tok.IdentitySource, scopes: scopesOf(tok.Scopes)}
			if tok.ExpiresAt != nil {
				e.expires = *tok.ExpiresAt
			}
			m[tok.Prefix] = e
		}
	}
	t.active.Store(&m)
	return nil
}

// Authorize checks the token presented for a use of scope: TokenValid
// (its use is recorded), TokenUnknown (unknown or revoked), TokenExpired,
// or TokenOutOfScope (a valid token without scope; nothing is recorded).
// It returns the token's id and identity source when the token is valid.
func (t *Tokens) Authorize(token, scope string) (int64, string, TokenVerdict) {
	e, v := t.lookup(token)
	if v != TokenValid {
		return 0, "", v
	}
	if !e.scopes.has(scope) {
		return e.id, e.source, TokenOutOfScope
	}
	t.mu.Lock()
	t.used[e.id] = t.now().UTC()
	t.mu.Unlock()
	return e.id, e.source, TokenValid
}

// lookup finds the token presented: TokenValid, TokenUnknown or
// TokenExpired.
func (t *Tokens) lookup(token string) (tokenEntry, TokenVerdict) {
	if len(token) < tokenPrefixLen || !strings.HasPrefix(token, tokenScheme) || len(token) > 128 {
		return tokenEntry{}, TokenUnknown
	}
	e, ok := (*t.active.Load())[token[:tokenPrefixLen]]
	if !ok {
		return tokenEntry{}, TokenUnknown
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], e.hash) != 1 {
		return tokenEntry{}, TokenUnknown
	}
	if !e.expires.IsZero() && !t.now().Before(e.expires) {
		return tokenEntry{}, TokenExpired
	}
	return e, TokenValid
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
