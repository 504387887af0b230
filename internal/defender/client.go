package defender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"postern/internal/secret"
)

// Credentials identify the Entra ID app Postern signs in as.
type Credentials struct {
	TenantID     string
	ClientID     string
	ClientSecret secret.Redacted
	// Certificate, when set, replaces ClientSecret: each token request
	// sends an assertion it signs.
	Certificate *Certificate
	Cloud       Cloud
	Region      Region
}

// Client talks to one tenant with one set of credentials. Its token cache
// is built once, on a context of its own, so tokens are reused across calls
// and a cancelled request never poisons later refreshes.
type Client struct {
	api    string
	tokens *tokenCache
	http   *http.Client
	limits Limits // of API calls (transport.go)
}

// NewClient builds a client for creds at ep. base carries the timeouts and
// transport for both token and API calls; nil means a 30-second default.
// Its timeout bounds a whole token call, but for an API call only the wait
// for the first byte and each pause in the body (Limits).
func NewClient(creds Credentials, ep Endpoints, base *http.Client) *Client {
	if base == nil {
		base = &http.Client{Timeout: 30 * time.Second}
	}
	cfg := &clientcredentials.Config{
		ClientID:     creds.ClientID,
		ClientSecret: creds.ClientSecret.Reveal(),
		TokenURL:     ep.LoginURL + "/" + url.PathEscape(creds.TenantID) + "/oauth2/v2.0/token",
		Scopes:       []string{ep.Scope},
		// Explicit: auto-detection would retry a failed request with the
		// other style, doubling calls and hiding the first error.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	var src tokenSource = cfg
	if creds.Certificate != nil {
		cfg.ClientSecret = ""
		src = &assertionSource{cfg: *cfg, cert: creds.Certificate, now: time.Now}
	}
	tctx := context.WithValue(context.Background(), oauth2.HTTPClient, base)
	return &Client{
		api:    ep.APIURL,
		tokens: &tokenCache{cfg: src, secret: cfg.ClientSecret, ctx: tctx, now: time.Now},
		http:   &http.Client{Transport: transportOf(base)},
		limits: limitsFor(base),
	}
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// Token returns a valid access token, fetching one only when the cached one
// is about to expire.
func (c *Client) Token() (*oauth2.Token, error) { return c.token(StageSync) }

// token is Token with its errors advised for stage.
func (c *Client) token(stage Stage) (*oauth2.Token, error) {
	t, err := c.tokens.Token()
	if err != nil {
		return nil, c.tokens.scrub(tokenError(err, c.tokens.now(), stage))
	}
	return t, nil
}

// Validate proves the credentials work end to end: a token, then one read of
// the machines list. Missing admin consent only shows up at the read, as a
// 403, so a token alone proves little.
//
// It runs before anything is stored (StageCheck): its errors advise saving
// again, not waiting for a sync that will not run.
func (c *Client) Validate(ctx context.Context) error {
	if _, err := c.token(StageCheck); err != nil {
		return err
	}
	res, err := c.get(ctx, c.api+"/api/machines?$top=1", nil)
	if err != nil {
		return err
	}
	if res.status == http.StatusNotFound {
		if emptyTenant(res.body) {
			return nil // Defender's own "no machines" is not a credential problem
		}
		return notFoundError(res.body, 0)
	}
	if res.status != http.StatusOK {
		return c.apiErrorOf(res, StageCheck)
	}
	var env struct {
		Value *[]json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(res.body, &env); err != nil || env.Value == nil {
		return &Error{Reason: BadResponse, Code: "invalid JSON", Help: HelpTroubleshooting,
			Message: "Microsoft answered with something that is not a Defender machine list. Check the API host (Cloud and API region) and any proxy in between.",
			Err:     fmt.Errorf("decode machines envelope: %v", err)}
	}
	return nil
}

// response is one API answer, read whole.
type response struct {
	status     int
	body       []byte
	retryAfter string
	header     http.Header   // of a failed answer, for its support id
	audience   string        // of the token a 403 answered, to tell a wrong audience apart
	buf        *bytes.Buffer // body's storage
	bodies     *bodies       // where buf goes back to, if anywhere
}

// release hands the body's buffer back to the listing it was read for,
// for a later page to be read into. Call it once nothing reads body any
// more (decoded values are copies); an answer never released is collected.
func (r *response) release() {
	if r.bodies != nil && r.buf != nil {
		r.bodies.put(r.buf)
	}
	r.buf, r.body, r.bodies = nil, nil, nil
}

// get performs one authenticated GET and reads the body. A 401 means the
// token was refused: it is dropped and the call retried once with a new one.
// A listing passes its bodies to read pages into reused buffers; nil reads
// into a new one.
func (c *Client) get(ctx context.Context, u string, b *bodies) (response, error) {
	res, err := c.getOnce(ctx, u, b)
	if err == nil && res.status == http.StatusUnauthorized {
		res, err = c.getOnce(ctx, u, b)
	}
	return res, err
}

func (c *Client) getOnce(ctx context.Context, u string, b *bodies) (response, error) {
	tok, err := c.Token()
	if err != nil {
		return response{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return response{}, fmt.Errorf("defender: build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req)
	res, buf, err := c.do(ctx, req, b)
	var de *Error
	var aud string
	switch {
	case errors.As(err, &de):
		return response{}, de
	case err != nil && ctx.Err() != nil:
		return response{}, ctx.Err()
	case err != nil:
		return response{}, networkError(err)
	}
	if res.StatusCode == http.StatusUnauthorized {
		c.tokens.invalidate(tok)
	}
	if res.StatusCode == http.StatusForbidden {
		aud = audienceOf(tok.AccessToken)
	}
	return response{status: res.StatusCode, body: buf.Bytes(), buf: buf, bodies: b, retryAfter: res.Header.Get("Retry-After"), header: headerOf(res), audience: aud}, nil
}
