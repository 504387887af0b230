package emulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// SignIn is a stand-in for Microsoft Entra ID's OpenID Connect endpoints
// for one tenant and one app, in the shape Entra serves them
// (docs/admins.md#sign-in-with-microsoft): discovery at
// /{tenant}/v2.0/.well-known/openid-configuration, the issuer
// {base}/{tenant}/v2.0, /{tenant}/oauth2/v2.0/authorize and token, and the
// keys at /{tenant}/discovery/v2.0/keys. The authorize endpoint signs the
// current user (SetUser) in at once, without a page. Id tokens are RS256 and
// carry tid, oid, email, preferred_username, name, roles and groups (or the
// groups overage claims), and amr when the user has one (Entra puts amr in
// v1.0 tokens only; the stand-in can send it to prove Postern does not
// depend on it). SetFaults makes it issue wrong tokens, for tests. The
// access token the code redeems for works at Microsoft Graph's
// /v1.0/me/checkMemberGroups on the same server (signin_graph.go).
type SignIn struct {
	TenantID, ClientID, ClientSecret string

	key *rsa.PrivateKey
	kid string

	mu     sync.Mutex
	user   SignInUser
	faults SignInFaults
	codes  map[string]signInCode
	access map[string]signInAccess // access token → who and what for
	graph  GraphFaults
	calls  int // Graph requests answered, faults included
	now    func() time.Time
}

// SignInUser is who the stand-in signs in. TID empty means the app's tenant.
type SignInUser struct {
	OID, TID, Email, Name string
	Roles, Groups         []string
	// GroupsOverage sends _claim_names/_claim_sources (and hasgroups)
	// instead of groups, as Entra does for a user in too many groups.
	GroupsOverage bool
	// AMR is the id token's amr claim (authentication methods, such as
	// pwd, mfa); nil sends none, as Entra's v2.0 id tokens do.
	AMR []string
}

// SignInFaults makes the next id tokens wrong in one way each.
type SignInFaults struct {
	Issuer   string // iss instead of the tenant's issuer
	Audience string // aud instead of the client id
	Expired  bool   // exp an hour ago
	Nonce    string // nonce instead of the one the authorize request sent
}

type signInCode struct {
	clientID, redirectURI, challenge, nonce, scope string
	user                                           SignInUser
	issued                                         time.Time
}

// NewSignIn returns the stand-in for tenant and the app clientID with
// clientSecret.
func NewSignIn(tenant, clientID, clientSecret string) *SignIn {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return &SignIn{TenantID: tenant, ClientID: clientID, ClientSecret: clientSecret, key: key, kid: newGUID(),
		codes: map[string]signInCode{}, access: map[string]signInAccess{}, now: time.Now}
}

// SetUser sets who the authorize endpoint signs in from now on.
func (s *SignIn) SetUser(u SignInUser) { s.mu.Lock(); s.user = u; s.mu.Unlock() }

// SetFaults sets the faults of the tokens issued from now on.
func (s *SignIn) SetFaults(f SignInFaults) { s.mu.Lock(); s.faults = f; s.mu.Unlock() }

// Issuer is the tenant's issuer as served from base (scheme and host).
func (s *SignIn) Issuer(base string) string { return base + "/" + s.TenantID + "/v2.0" }

func (s *SignIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host
	if strings.HasPrefix(r.URL.Path, "/v1.0/") {
		s.serveGraph(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+s.TenantID+"/")
	if !ok {
		http.Error(w, `{"error":"invalid_tenant"}`, http.StatusBadRequest)
		return
	}
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		iss := s.Issuer(base)
		writeJSON(w, map[string]any{
			"issuer": iss, "authorization_endpoint": base + "/" + s.TenantID + "/oauth2/v2.0/authorize",
			"token_endpoint":           base + "/" + s.TenantID + "/oauth2/v2.0/token",
			"jwks_uri":                 base + "/" + s.TenantID + "/discovery/v2.0/keys",
			"response_types_supported": []string{"code", "id_token", "code id_token"},
			"subject_types_supported":  []string{"pairwise"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                 []string{"openid", "profile", "email", "offline_access"},
			"code_challenge_methods_supported": []string{"plain", "S256"},
		})
	case "discovery/v2.0/keys":
		writeJSON(w, map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "use": "sig", "kid": s.kid, "alg": "RS256",
			"n": b64(s.key.N.Bytes()), "e": b64(big.NewInt(int64(s.key.E)).Bytes()),
		}}})
	case "oauth2/v2.0/authorize":
		s.authorize(w, r)
	case "oauth2/v2.0/token":
		s.token(w, r, base)
	default:
		http.NotFound(w, r)
	}
}

// authorize checks the request as Entra would and redirects back with a code.
func (s *SignIn) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("client_id") != s.ClientID:
		http.Error(w, "AADSTS700016: Application not found in the directory.", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code", !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		http.Error(w, "AADSTS900144: response_type code and scope openid are required.", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "AADSTS501491: a PKCE code_challenge with method S256 is required.", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || back.Scheme == "" {
		http.Error(w, "AADSTS50011: The redirect URI does not match.", http.StatusBadRequest)
		return
	}
	code := randomB64(32)
	s.mu.Lock()
	s.codes[code] = signInCode{clientID: s.ClientID, redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"),
		nonce: q.Get("nonce"), scope: q.Get("scope"), user: s.user, issued: s.now()}
	s.mu.Unlock()
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token redeems a code once, checking the client's secret, the redirect URI
// and the PKCE verifier.
func (s *SignIn) token(w http.ResponseWriter, r *http.Request, base string) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, "unsupported_grant_type", "AADSTS70003: unsupported grant type")
		return
	}
	id, sec, ok := r.BasicAuth()
	if !ok {
		id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.ClientID || subtle.ConstantTimeCompare([]byte(sec), []byte(s.ClientSecret)) != 1 {
		tokenError(w, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	}
	s.mu.Lock()
	c, found := s.codes[r.PostForm.Get("code")]
	delete(s.codes, r.PostForm.Get("code"))
	user, faults := c.user, s.faults
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !found || s.now().Sub(c.issued) > 10*time.Minute:
		tokenError(w, "invalid_grant", "AADSTS70008: The provided authorization code has expired or was already redeemed.")
		return
	case c.redirectURI != r.PostForm.Get("redirect_uri"):
		tokenError(w, "invalid_grant", "AADSTS50148: The redirect_uri does not match the one of the authorization request.")
		return
	case b64(sum[:]) != c.challenge:
		tokenError(w, "invalid_grant", "AADSTS50148: The code_verifier does not match the code_challenge.")
		return
	}
	idToken := s.idToken(base, c.nonce, user, faults)
	access := randomB64(64)
	s.mu.Lock()
	s.access[access] = signInAccess{user: user, scope: c.scope, expires: s.now().Add(time.Hour)}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"token_type": "Bearer", "scope": c.scope, "expires_in": 3599,
		"access_token": access, "id_token": idToken})
}

// idToken signs the claims Entra's v2 id token carries for user.
func (s *SignIn) idToken(base, nonce string, u SignInUser, f SignInFaults) string {
	now := s.now()
	tid := u.TID
	if tid == "" {
		tid = s.TenantID
	}
	c := map[string]any{
		"ver": "2.0", "iss": s.Issuer(base), "aud": s.ClientID, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "tid": tid, "oid": u.OID, "sub": stableGUID("sub:" + u.OID),
		"nonce": nonce, "name": u.Name, "preferred_username": u.Email, "email": u.Email,
	}
	if len(u.Roles) > 0 {
		c["roles"] = u.Roles
	}
	if u.AMR != nil {
		c["amr"] = u.AMR
	}
	switch {
	case u.GroupsOverage:
		c["hasgroups"] = true
		c["_claim_names"] = map[string]string{"groups": "src1"}
		c["_claim_sources"] = map[string]any{"src1": map[string]string{
			"endpoint": "https://graph.microsoft.com/v1.0/users/" + u.OID + "/getMemberObjects"}}
	case len(u.Groups) > 0:
		c["groups"] = u.Groups
	}
	if f.Issuer != "" {
		c["iss"] = f.Issuer
	}
	if f.Audience != "" {
		c["aud"] = f.Audience
	}
	if f.Expired {
		c["exp"] = now.Add(-time.Hour).Unix()
	}
	if f.Nonce != "" {
		c["nonce"] = f.Nonce
	}
	head, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": s.kid})
	body, _ := json.Marshal(c)
	signing := b64(head) + "." + b64(body)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func tokenError(w http.ResponseWriter, class, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"error": class, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
