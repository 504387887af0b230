package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"postern/internal/testkit"
)

// t0 is the fake "now" of every test.
var t0 = time.Date(2026, 11, 25, 10, 2, 11, 0, time.UTC)

func newEmu(t testing.TB, machines int) (*Emulator, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(t0)
	return New(Config{Machines: machines, Seed: 42, Now: clk.Now}), clk
}

// goodForm is a valid v2 client-credentials request for the demo app.
func goodForm() url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {DemoClientID},
		"client_secret": {DemoClientSecret},
		"scope":         {"https://api.securitycenter.microsoft.com/.default"},
	}
}

func tokenPath(tenant string) string { return "/" + tenant + "/oauth2/v2.0/token" }

func postForm(e *Emulator, path string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

// fetchToken runs the real grant and returns the access token.
func fetchToken(t testing.TB, e *Emulator, form url.Values) string {
	t.Helper()
	w := postForm(e, tokenPath(DemoTenantID), form)
	if w.Code != http.StatusOK {
		t.Fatalf("token: status %d, body %s", w.Code, w.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(t, w.Body.Bytes(), &body)
	return body.AccessToken
}

// get calls the API with a bearer token and optional header pairs.
func get(e *Emulator, target, token string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", truncate(string(b), 300), err)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// claimsOf decodes a JWT payload without checking it.
func claimsOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var m map[string]any
	mustJSON(t, b, &m)
	return m
}

// page is a decoded machines envelope.
type page struct {
	Context  string            `json:"@odata.context"`
	Count    *int              `json:"@odata.count"`
	NextLink string            `json:"@odata.nextLink"`
	Value    []json.RawMessage `json:"value"`
}

func ids(t testing.TB, p page) []string {
	t.Helper()
	out := make([]string, len(p.Value))
	for i, raw := range p.Value {
		var m struct {
			ID string `json:"id"`
		}
		mustJSON(t, raw, &m)
		out[i] = m.ID
	}
	return out
}

func fleetIDs(e *Emulator) []string {
	var out []string
	for _, m := range e.Machines() {
		out = append(out, m.ID)
	}
	return out
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
	} `json:"error"`
}

// wantAPIError checks status and the {"error":{code,message,target}} body.
func wantAPIError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) apiErr {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	var body apiErr
	mustJSON(t, w.Body.Bytes(), &body)
	if body.Error.Code != code {
		t.Errorf("error.code = %q, want %q", body.Error.Code, code)
	}
	if body.Error.Message == "" || !isGUID(body.Error.Target) {
		t.Errorf("error = %+v, want a message and a GUID target", body.Error)
	}
	return body
}
