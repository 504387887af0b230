package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Claims are the access-token claims of a real app-only Entra token for MDE
// (docs/defender-api.md#token-response). Roles is omitted entirely when empty, as Entra does
// for an app without granted roles.
type Claims struct {
	Aud               string   `json:"aud"`
	Iss               string   `json:"iss"`
	Iat               int64    `json:"iat"`
	Nbf               int64    `json:"nbf"`
	Exp               int64    `json:"exp"`
	Aio               string   `json:"aio"`
	AppDisplayName    string   `json:"app_displayname"`
	AppID             string   `json:"appid"`
	AppIDAcr          string   `json:"appidacr"`
	IdP               string   `json:"idp"`
	OID               string   `json:"oid"`
	RH                string   `json:"rh"`
	Roles             []string `json:"roles,omitempty"`
	Sub               string   `json:"sub"`
	TenantRegionScope string   `json:"tenant_region_scope"`
	TID               string   `json:"tid"`
	UTI               string   `json:"uti"`
	Ver               string   `json:"ver"`
}

// The header names HS256: the emulator signs with its own random key and
// verifies its own tokens; real tokens are RS256, which clients must not check.
var jwtHeader = b64([]byte(`{"typ":"JWT","alg":"HS256","kid":"postern-emulator"}`))

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newClaims builds the claims of a token for aud issued now.
func (e *Emulator) newClaims(aud string, roles []string, now time.Time, life time.Duration) Claims {
	tid := e.cfg.TenantID
	sp := stableGUID("sp:" + tid + ":" + e.cfg.ClientID)
	return Claims{
		Aud:               aud,
		Iss:               "https://sts.windows.net/" + tid + "/",
		Iat:               now.Add(-5 * time.Minute).Unix(),
		Nbf:               now.Add(-5 * time.Minute).Unix(),
		Exp:               now.Add(life).Unix(),
		Aio:               randomB64(48),
		AppDisplayName:    e.cfg.AppDisplayName,
		AppID:             e.cfg.ClientID,
		AppIDAcr:          "1",
		IdP:               "https://sts.windows.net/" + tid + "/",
		OID:               sp,
		RH:                "0." + randomB64(60) + ".",
		Roles:             roles,
		Sub:               sp,
		TenantRegionScope: "EU",
		TID:               tid,
		UTI:               randomB64(16),
		Ver:               "1.0",
	}
}

func (e *Emulator) sign(c Claims) string {
	payload, _ := json.Marshal(c) // plain strings and numbers: cannot fail
	head := jwtHeader + "." + b64(payload)
	mac := hmac.New(sha256.New, e.key)
	mac.Write([]byte(head))
	return head + "." + b64(mac.Sum(nil))
}

var (
	errTokenInvalid = errors.New("invalid token")
	errTokenExpired = errors.New("expired token")
)

// verify checks the signature and lifetime of a token this emulator issued.
func (e *Emulator) verify(tok string, now time.Time) (Claims, error) {
	var c Claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != jwtHeader {
		return c, errTokenInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return c, errTokenInvalid
	}
	mac := hmac.New(sha256.New, e.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return c, errTokenInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return c, errTokenInvalid
	}
	if c.TID != e.cfg.TenantID {
		return c, errTokenInvalid
	}
	if now.Unix() >= c.Exp || now.Unix() < c.Nbf {
		return c, errTokenExpired
	}
	return c, nil
}

// Token mints a valid MDE token for the configured app, as the token endpoint
// would with the current faults, for tests that do not exercise the grant.
func (e *Emulator) Token() string {
	f := e.Faults()
	return e.sign(e.newClaims(mdeAudience, f.issuedRoles(), e.now(), f.tokenLifetime()))
}

func (f *Faults) issuedRoles() []string {
	switch {
	case f.NoConsent:
		return nil
	case f.Roles != nil:
		return f.Roles
	default:
		return []string{"Machine.Read.All"}
	}
}

func randomB64(n int) string {
	b := make([]byte, n*3/4)
	rand.Read(b)
	return b64(b)
}

// stableGUID derives a GUID from s, for ids that must not change between runs
// (the service principal's object id).
func stableGUID(s string) string {
	sum := sha256.Sum256([]byte(s))
	var b [16]byte
	copy(b[:], sum[:16])
	return formatGUID(b)
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return formatGUID(b)
}
