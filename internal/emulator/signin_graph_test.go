package emulator

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// graphToken signs u in through the stand-in's authorize and token
// endpoints asking for scope, and returns the access token.
func graphToken(t *testing.T, s *SignIn, base, scope string) string {
	t.Helper()
	const verifier = "a-verifier-of-enough-length-for-pkce-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {s.ClientID}, "response_type": {"code"}, "scope": {scope}, "redirect_uri": {"https://app/cb"},
		"code_challenge_method": {"S256"}, "code_challenge": {b64(sum[:])}, "state": {"x"}, "nonce": {"n"}}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(base + "/" + s.TenantID + "/oauth2/v2.0/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, _ := url.Parse(res.Header.Get("Location"))
	res, err = http.PostForm(base+"/"+s.TenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"},
		"code": {back.Query().Get("code")}, "redirect_uri": {"https://app/cb"}, "code_verifier": {verifier},
		"client_id": {s.ClientID}, "client_secret": {s.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d, %v", res.StatusCode, err)
	}
	return tok.AccessToken
}

func checkGroups(t *testing.T, base, token string, ids ...string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string][]string{"groupIds": ids})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1.0/me/checkMemberGroups", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The stand-in's Graph answers like Graph: the user's memberships among the
// ids asked, with a User.Read token; 403 without it; 401 for a token it did
// not issue; 400 for more than 20 ids.
func TestSignInGraphCheckMemberGroups(t *testing.T) {
	const in, out = "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "11111111-2222-4333-8444-555555555555"
	s := NewSignIn("4f6c2a1e-9b7d-4c3a-8e5f-1a2b3c4d5e6f", "7d9e8f10-2a3b-4c5d-9e8f-0a1b2c3d4e5f", "secret")
	hs := httptest.NewServer(s)
	defer hs.Close()
	s.SetUser(SignInUser{OID: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", Groups: []string{strings.ToUpper(in)}, GroupsOverage: true})

	tok := graphToken(t, s, hs.URL, "openid profile email User.Read")
	if code, body := checkGroups(t, hs.URL, tok, in, out); code != http.StatusOK || !strings.Contains(body, in) || strings.Contains(body, out) {
		t.Fatalf("checkMemberGroups: %d %s", code, body)
	}
	if code, body := checkGroups(t, hs.URL, graphToken(t, s, hs.URL, "openid profile email"), in); code != http.StatusForbidden ||
		!strings.Contains(body, "Authorization_RequestDenied") {
		t.Fatalf("without User.Read: %d %s", code, body)
	}
	if code, _ := checkGroups(t, hs.URL, "forged", in); code != http.StatusUnauthorized {
		t.Fatalf("a forged token: %d", code)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = in
	}
	if code, _ := checkGroups(t, hs.URL, tok, many...); code != http.StatusBadRequest {
		t.Fatalf("21 ids: %d, want 400", code)
	}
	if n := s.GraphCalls(); n != 4 {
		t.Fatalf("GraphCalls = %d, want 4", n)
	}
}
