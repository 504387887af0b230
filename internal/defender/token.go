package defender

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// tokenEarly is how long before its expiry a token is replaced, so a call
// never starts with a token about to lapse.
const tokenEarly = 2 * time.Minute

// tokenCache hands out one token until shortly before it expires and can be
// told a token was rejected. Fetches use a context of the cache's own (with
// the HTTP client), never a request's: a cancelled request cannot poison a
// later refresh. A failed fetch is not cached.
type tokenCache struct {
	cfg    tokenSource // a *clientcredentials.Config, or an assertionSource for a certificate
	secret string      // the client secret, if any, to scrub from what Microsoft said
	ctx    context.Context
	now    func() time.Time

	mu      sync.Mutex
	tok     *oauth2.Token
	fetched time.Time
}

func (c *tokenCache) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.tok != nil {
		// Replace early, but never by more than a tenth of the lifetime, so
		// short-lived tokens are still reused.
		early := min(tokenEarly, c.tok.Expiry.Sub(c.fetched)/10)
		if c.tok.Expiry.IsZero() || now.Add(early).Before(c.tok.Expiry) {
			return c.tok, nil
		}
	}
	tok, err := c.cfg.Token(c.ctx)
	if err != nil {
		return nil, err
	}
	c.tok, c.fetched = tok, now
	return tok, nil
}

// invalidate drops tok if it is still the cached one, so the next call
// fetches a new token.
func (c *tokenCache) invalidate(tok *oauth2.Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && tok != nil && c.tok.AccessToken == tok.AccessToken {
		c.tok = nil
	}
}

// scrub removes the client secret, as sent or URL-encoded, from what
// Microsoft said, should it ever be echoed back, then cuts the message to
// maxSaid.
func (c *tokenCache) scrub(e *Error) *Error {
	if sec := c.secret; sec != "" {
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			e.MicrosoftMessage = strings.ReplaceAll(e.MicrosoftMessage, form, "[secret]")
			e.MicrosoftCode = strings.ReplaceAll(e.MicrosoftCode, form, "[secret]")
		}
	}
	e.MicrosoftMessage = cut(e.MicrosoftMessage, maxSaid)
	return e
}
