package defender

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2), the form Entra ID takes for a certificate.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is how long a signed assertion is valid. Each token
// request signs a new one, so it only has to outlive one round trip;
// Microsoft's own libraries use 10 minutes.
const assertionLifetime = 5 * time.Minute

// tokenSource fetches one token; *clientcredentials.Config is one.
type tokenSource interface {
	Token(ctx context.Context) (*oauth2.Token, error)
}

// assertionSource is a client-credentials grant that proves the app's
// identity with a freshly signed assertion per request instead of a secret.
type assertionSource struct {
	cfg  clientcredentials.Config // without ClientSecret
	cert *Certificate
	now  func() time.Time
}

// Token signs a new assertion and asks for a token with it.
func (a *assertionSource) Token(ctx context.Context) (*oauth2.Token, error) {
	jwt, err := a.cert.Assertion(a.cfg.ClientID, a.cfg.TokenURL, a.now())
	if err != nil {
		return nil, err
	}
	cfg := a.cfg
	cfg.EndpointParams = url.Values{
		"client_assertion_type": {ClientAssertionType},
		"client_assertion":      {jwt},
	}
	return cfg.Token(ctx)
}

// assertionHeader is the JOSE header Entra ID reads: x5t#S256 names the
// registered certificate by the SHA-256 of its DER bytes, as Microsoft's
// documentation asks. x5t (SHA-1) says the same for tenants that still
// look it up only by that: one such report is MicrosoftDocs/entra-docs
// pull request 1301, where x5t#S256 alone got AADSTS700027.
type assertionHeader struct {
	Alg     string `json:"alg"`
	Typ     string `json:"typ"`
	X5t     string `json:"x5t"`
	X5tS256 string `json:"x5t#S256"`
}

// AssertionClaims are the claims of a client assertion (RFC 7523 §3).
type AssertionClaims struct {
	Aud string `json:"aud"`
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	JTI string `json:"jti"`
	Iat int64  `json:"iat"`
	Nbf int64  `json:"nbf"`
	Exp int64  `json:"exp"`
}

// Assertion is a client assertion signed RS256 by c: issued by and about
// clientID, for the token endpoint tokenURL, valid from now for five
// minutes, with a unique id Entra uses against replay.
func (c *Certificate) Assertion(clientID, tokenURL string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("defender: assertion id: %w", err)
	}
	sha1Sum := sha1.Sum(c.cert.Raw)
	head, _ := json.Marshal(assertionHeader{Alg: "RS256", Typ: "JWT", X5t: b64url(sha1Sum[:]), X5tS256: b64url(ThumbprintS256(c.cert))})
	claims, _ := json.Marshal(AssertionClaims{
		Aud: tokenURL, Iss: clientID, Sub: clientID, JTI: hex.EncodeToString(jti),
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(assertionLifetime).Unix(),
	})
	signing := b64url(head) + "." + b64url(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("defender: sign assertion: %w", err)
	}
	return signing + "." + b64url(sig), nil
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
