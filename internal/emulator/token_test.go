package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var aadTimestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

func TestTokenErrors(t *testing.T) {
	with := func(edit func(url.Values)) url.Values {
		f := goodForm()
		edit(f)
		return f
	}
	tests := []struct {
		name     string
		method   string // default POST
		path     string // default the demo tenant's v2 endpoint
		form     url.Values
		faults   Faults
		status   int
		class    string
		code     int
		descPart string
	}{
		{name: "GET", method: http.MethodGet, form: goodForm(), status: 400, class: "invalid_request", code: 900561, descPart: "only accepts POST"},
		{name: "malformed tenant", path: "/not%20a%20tenant/oauth2/v2.0/token", form: goodForm(), status: 400, class: "invalid_request", code: 900023, descPart: "'not a tenant' is neither a valid DNS name"},
		{name: "tenant with a path", path: "/a/b/oauth2/v2.0/token", form: goodForm(), status: 400, class: "invalid_request", code: 900023},
		{name: "empty GUID", path: tokenPath(zeroGUID), form: goodForm(), status: 400, class: "invalid_request", code: 90002, descPart: "may not be an empty GUID"},
		{name: "unknown tenant GUID", path: tokenPath("11111111-2222-4333-8444-555555555555"), form: goodForm(), status: 400, class: "invalid_tenant", code: 90002, descPart: "Tenant '11111111-2222-4333-8444-555555555555' not found"},
		{name: "unknown tenant domain", path: tokenPath("fabrikam.onmicrosoft.com"), form: goodForm(), status: 400, class: "invalid_tenant", code: 90002, descPart: "signing into the correct cloud"},
		{name: "common", path: tokenPath("common"), form: goodForm(), status: 400, class: "invalid_request", code: 9001023},
		{name: "consumers", path: tokenPath("consumers"), form: goodForm(), status: 400, class: "invalid_request", code: 9001023},
		{name: "organizations", path: tokenPath("organizations"), form: goodForm(), status: 400, class: "invalid_request", code: 50059},
		{name: "missing grant_type", form: with(func(f url.Values) { f.Del("grant_type") }), status: 400, class: "invalid_request", code: 900144, descPart: "parameter: 'grant_type'"},
		{name: "missing client_id", form: with(func(f url.Values) { f.Del("client_id") }), status: 400, class: "invalid_request", code: 900144, descPart: "parameter: 'client_id'"},
		{name: "missing scope", form: with(func(f url.Values) { f.Del("scope") }), status: 400, class: "invalid_request", code: 900144, descPart: "parameter: 'scope'"},
		{name: "password grant", form: with(func(f url.Values) { f.Set("grant_type", "password") }), status: 400, class: "unsupported_grant_type", code: 70003},
		{name: "unknown client", form: with(func(f url.Values) { f.Set("client_id", "99999999-aaaa-4bbb-8ccc-dddddddddddd") }), status: 400, class: "unauthorized_client", code: 700016,
			descPart: "Application with identifier '99999999-aaaa-4bbb-8ccc-dddddddddddd' was not found in the directory '" + DemoTenantID + "'"},
		{name: "missing secret", form: with(func(f url.Values) { f.Del("client_secret") }), status: 400, class: "invalid_request", code: 7000218, descPart: "'client_assertion' or 'client_secret'"},
		{name: "wrong secret", form: with(func(f url.Values) { f.Set("client_secret", "nope") }), status: 401, class: "invalid_client", code: 7000215, descPart: "client secret value, not the client secret ID"},
		{name: "secret ID instead of value", form: with(func(f url.Values) { f.Set("client_secret", "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9") }), status: 401, class: "invalid_client", code: 7000215, descPart: "not the client secret ID"},
		{name: "expired secret", form: goodForm(), faults: Faults{ExpiredSecret: true}, status: 401, class: "invalid_client", code: 7000222, descPart: "are expired"},
		{name: "scope without .default", form: with(func(f url.Values) { f.Set("scope", "https://api.securitycenter.microsoft.com/Machine.Read.All") }), status: 400, class: "invalid_scope", code: 1002012, descPart: "/.default suffixed"},
		{name: "bare resource as scope", form: with(func(f url.Values) { f.Set("scope", "https://api.securitycenter.microsoft.com") }), status: 400, class: "invalid_scope", code: 1002012},
		{name: "malformed scope", form: with(func(f url.Values) { f.Set("scope", "Machine.Read.All") }), status: 400, class: "invalid_scope", code: 70011},
		{name: "two resources", form: with(func(f url.Values) {
			f.Set("scope", "https://api.securitycenter.microsoft.com/.default https://graph.microsoft.com/.default")
		}), status: 400, class: "invalid_scope", code: 700022},
		{name: "unknown resource", form: with(func(f url.Values) { f.Set("scope", "https://graph.example.com/.default") }), status: 400, class: "invalid_resource", code: 500011, descPart: "resource principal named https://graph.example.com was not found"},
		{name: "defender not provisioned", form: goodForm(), faults: Faults{DefenderNotProvisioned: true}, status: 400, class: "invalid_resource", code: 500011},
		{name: "resource on v2", form: with(func(f url.Values) { f.Set("resource", "https://api.securitycenter.microsoft.com") }), status: 400, class: "invalid_request", code: 901002},
		{name: "v1 without resource", path: "/" + DemoTenantID + "/oauth2/token", form: with(func(f url.Values) { f.Del("scope") }), status: 400, class: "invalid_request", code: 900144, descPart: "'resource'"},
		{name: "token service down", form: goodForm(), faults: Faults{TokenDown: true}, status: 503, class: "temporarily_unavailable", code: 90033},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEmu(t, 1)
			e.SetFaults(tt.faults)
			method, path := tt.method, tt.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = tokenPath(DemoTenantID)
			}
			r := httptest.NewRequest(method, path, strings.NewReader(tt.form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			checkAADError(t, w, tt.status, tt.class, tt.code, tt.descPart)
		})
	}
}

// checkAADError pins the full field set of docs/defender-api.md#token-errors of a token error.
func checkAADError(t *testing.T, w *httptest.ResponseRecorder, status int, class string, code int, descPart string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	var raw map[string]json.RawMessage
	mustJSON(t, w.Body.Bytes(), &raw)
	for _, k := range []string{"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("field %q missing from %s", k, w.Body)
		}
	}
	var body aadErrorBody
	mustJSON(t, w.Body.Bytes(), &body)
	if body.Error != class {
		t.Errorf("error = %q, want %q", body.Error, class)
	}
	if len(body.ErrorCodes) != 1 || body.ErrorCodes[0] != code {
		t.Errorf("error_codes = %v, want [%d]", body.ErrorCodes, code)
	}
	if !aadTimestampRE.MatchString(body.Timestamp) || body.Timestamp != "2026-11-25 10:02:11Z" {
		t.Errorf("timestamp = %q, want %q (a space, not T)", body.Timestamp, "2026-11-25 10:02:11Z")
	}
	if !isGUID(body.TraceID) || !isGUID(body.CorrelationID) {
		t.Errorf("trace_id %q / correlation_id %q are not GUIDs", body.TraceID, body.CorrelationID)
	}
	if want := fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code); body.ErrorURI != want {
		t.Errorf("error_uri = %q, want %q", body.ErrorURI, want)
	}
	prefix := fmt.Sprintf("AADSTS%d: ", code)
	suffix := "\r\nTrace ID: " + body.TraceID + "\r\nCorrelation ID: " + body.CorrelationID + "\r\nTimestamp: " + body.Timestamp
	if d := body.ErrorDescription; !strings.HasPrefix(d, prefix) || !strings.HasSuffix(d, suffix) || !strings.Contains(d, descPart) {
		t.Errorf("error_description = %q, want prefix %q, text %q and suffix %q", d, prefix, descPart, suffix)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestTokenSuccessV2(t *testing.T) {
	e, _ := newEmu(t, 1)
	w := postForm(e, tokenPath(DemoTenantID), goodForm())
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	var raw map[string]any
	mustJSON(t, w.Body.Bytes(), &raw)
	want := map[string]any{"token_type": "Bearer", "expires_in": 3599.0, "ext_expires_in": 3599.0}
	for k, v := range want {
		if raw[k] != v {
			t.Errorf("%s = %#v, want %#v", k, raw[k], v)
		}
	}
	if len(raw) != 4 {
		t.Errorf("body has %d fields, want 4: %s", len(raw), w.Body)
	}
	c := claimsOf(t, raw["access_token"].(string))
	wantClaims := map[string]any{
		"aud": "https://api.securitycenter.microsoft.com", "iss": "https://sts.windows.net/" + DemoTenantID + "/",
		"idp": "https://sts.windows.net/" + DemoTenantID + "/", "tid": DemoTenantID, "appid": DemoClientID,
		"ver": "1.0", "appidacr": "1", "app_displayname": DemoAppName, "tenant_region_scope": "EU",
		"iat": float64(t0.Add(-5 * time.Minute).Unix()), "nbf": float64(t0.Add(-5 * time.Minute).Unix()),
		"exp": float64(t0.Add(3599 * time.Second).Unix()),
	}
	for k, v := range wantClaims {
		if c[k] != v {
			t.Errorf("claim %s = %#v, want %#v", k, c[k], v)
		}
	}
	if roles := fmt.Sprint(c["roles"]); roles != "[Machine.Read.All]" {
		t.Errorf("roles = %s, want [Machine.Read.All]", roles)
	}
	if !isGUID(fmt.Sprint(c["oid"])) || c["oid"] != c["sub"] {
		t.Errorf("oid %v / sub %v: want the same GUID", c["oid"], c["sub"])
	}
}

func TestTokenVariants(t *testing.T) {
	tests := []struct {
		name      string
		tenant    string
		scope     string
		faults    Faults
		basicAuth bool
		wantAud   string
		wantRoles string // fmt of the roles claim; "<nil>" when absent
	}{
		{name: "tenant by domain, any case", tenant: "Contoso-Demo.onmicrosoft.com", wantAud: mdeAudience, wantRoles: "[Machine.Read.All]"},
		{name: "windowsatpservice scope", scope: "https://securitycenter.onmicrosoft.com/windowsatpservice/.default", wantAud: "https://securitycenter.onmicrosoft.com/windowsatpservice", wantRoles: "[Machine.Read.All]"},
		{name: "XDR scope: token without MDE roles", scope: "https://api.security.microsoft.com/.default", wantAud: "https://api.security.microsoft.com", wantRoles: "<nil>"},
		{name: "no consent: no roles claim", faults: Faults{NoConsent: true}, wantAud: mdeAudience, wantRoles: "<nil>"},
		{name: "custom roles", faults: Faults{Roles: []string{"Machine.Isolate"}}, wantAud: mdeAudience, wantRoles: "[Machine.Isolate]"},
		{name: "HTTP Basic client auth", basicAuth: true, wantAud: mdeAudience, wantRoles: "[Machine.Read.All]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEmu(t, 1)
			e.SetFaults(tt.faults)
			form := goodForm()
			if tt.scope != "" {
				form.Set("scope", tt.scope)
			}
			tenant := DemoTenantID
			if tt.tenant != "" {
				tenant = tt.tenant
			}
			if tt.basicAuth {
				form.Del("client_id")
				form.Del("client_secret")
			}
			r := httptest.NewRequest(http.MethodPost, tokenPath(tenant), strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basicAuth {
				r.SetBasicAuth(url.QueryEscape(DemoClientID), url.QueryEscape(DemoClientSecret))
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, body %s", w.Code, w.Body)
			}
			var body tokenV2
			mustJSON(t, w.Body.Bytes(), &body)
			c := claimsOf(t, body.AccessToken)
			if c["aud"] != tt.wantAud {
				t.Errorf("aud = %v, want %s", c["aud"], tt.wantAud)
			}
			if got := fmt.Sprint(c["roles"]); got != tt.wantRoles {
				t.Errorf("roles = %s, want %s", got, tt.wantRoles)
			}
			if _, has := c["roles"]; tt.wantRoles == "<nil>" && has {
				t.Errorf("roles claim present, want it absent")
			}
		})
	}
}

func TestTokenV1StringTypedFields(t *testing.T) {
	e, _ := newEmu(t, 1)
	form := goodForm()
	form.Del("scope")
	form.Set("resource", "https://api.securitycenter.microsoft.com")
	w := postForm(e, "/"+DemoTenantID+"/oauth2/token", form)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	var raw map[string]any
	mustJSON(t, w.Body.Bytes(), &raw)
	want := map[string]any{
		"token_type": "Bearer", "expires_in": "3599", "ext_expires_in": "3599",
		"expires_on": fmt.Sprint(t0.Add(3599 * time.Second).Unix()), "not_before": fmt.Sprint(t0.Add(-5 * time.Minute).Unix()),
		"resource": "https://api.securitycenter.microsoft.com",
	}
	for k, v := range want {
		if raw[k] != v {
			t.Errorf("%s = %#v, want the string %#v", k, raw[k], v)
		}
	}
	if tok, _ := raw["access_token"].(string); get(e, "/api/machines", tok).Code != http.StatusOK {
		t.Errorf("v1 token was not accepted by the API")
	}
}

func TestTokenLifetimeAndExpiry(t *testing.T) {
	e, clk := newEmu(t, 1)
	e.SetFaults(Faults{TokenLifetime: 2 * time.Second})
	w := postForm(e, tokenPath(DemoTenantID), goodForm())
	var body tokenV2
	mustJSON(t, w.Body.Bytes(), &body)
	if body.ExpiresIn != 2 {
		t.Errorf("expires_in = %d, want 2", body.ExpiresIn)
	}
	if got := get(e, "/api/machines", body.AccessToken).Code; got != http.StatusOK {
		t.Fatalf("fresh token: status %d, want 200", got)
	}
	clk.Advance(2 * time.Second)
	wantAPIError(t, get(e, "/api/machines", body.AccessToken), http.StatusUnauthorized, "Unauthorized")
}

func TestTokenDelayAndCorrelationEcho(t *testing.T) {
	e, _ := newEmu(t, 1)
	e.SetFaults(Faults{TokenDelay: 30 * time.Millisecond})
	form := goodForm()
	form.Set("client_secret", "wrong")
	r := httptest.NewRequest(http.MethodPost, tokenPath(DemoTenantID), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("client-request-id", "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d")
	w := httptest.NewRecorder()
	start := time.Now()
	e.ServeHTTP(w, r)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("answered after %v, want at least the 30ms TokenDelay", d)
	}
	var body aadErrorBody
	mustJSON(t, w.Body.Bytes(), &body)
	if body.CorrelationID != "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d" {
		t.Errorf("correlation_id = %q, want the client-request-id echoed", body.CorrelationID)
	}
}

func TestTokenRejectsJSONBody(t *testing.T) {
	e, _ := newEmu(t, 1)
	r := httptest.NewRequest(http.MethodPost, tokenPath(DemoTenantID), strings.NewReader(`{"grant_type":"client_credentials"}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	checkAADError(t, w, 400, "invalid_request", 900144, "'grant_type'")
}

func TestDemoCredentialsWellFormed(t *testing.T) {
	if !isGUID(DemoTenantID) || !isGUID(DemoClientID) {
		t.Errorf("demo tenant/client ids must be GUIDs")
	}
	if len(DemoClientSecret) != 40 || !strings.Contains(DemoClientSecret, "~") || !strings.Contains(DemoClientSecret, ".") {
		t.Errorf("DemoClientSecret %q: want 40 chars with ~ and .", DemoClientSecret)
	}
	if !isDNSName(DemoTenantDomain) {
		t.Errorf("DemoTenantDomain %q is not a DNS name", DemoTenantDomain)
	}
}
