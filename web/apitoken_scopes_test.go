package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/posture"
)

// createScoped creates a token through the form with scopes and expiry
// ("" for the form's never) and returns it with the page that showed it.
func createScoped(t *testing.T, c *client, name string, scopes []string, expires string) (string, response) {
	t.Helper()
	form := url.Values{"name": {name}, "scopes_form": {"1"}, "scope": scopes, "expires": {expires}}
	res := c.post("/settings/api-tokens", form)
	wantStatus(t, res, http.StatusOK)
	token := text(parse(t, res).Find(testID("new-token")))
	if !tokenRE.MatchString(token) {
		t.Fatalf("the new token is not shown (%q)", token)
	}
	return token, res
}

// scopeCall is one use of the API: the scope it needs, and how to tell the
// answer let the token through (not 401, and not a 403 about scope).
type scopeCall struct {
	name, scope, method, path string
	header                    map[string]string
	body                      string
}

func (sc scopeCall) do(t *testing.T, e *testEnv, token string) response {
	t.Helper()
	var body io.Reader
	if sc.body != "" {
		body = strings.NewReader(sc.body)
	}
	req, err := http.NewRequest(sc.method, e.http.URL+sc.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if sc.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range sc.header {
		req.Header.Set(k, v)
	}
	res, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(b)}
}

// Each scope opens its endpoints and no other: a valid token outside its
// scope is 403 naming the scope (forward-auth: 403 with the reason), its
// use is not recorded, no decision is logged and the API summary counts
// an error; an expired token is 401.
func TestTokenScopesPerEndpoint(t *testing.T) {
	d, _, f := evSetupDefender(t)
	e := d.testEnv
	evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Low"})
	admin := e.signedIn()
	calls := []scopeCall{
		{"evaluate", model.ScopeEvaluate, http.MethodPost, evaluatePath, nil, `{"device":{"hostname":"` + f.low.ComputerDNSName + `"}}`},
		{"forward-auth", model.ScopeEvaluate, http.MethodGet, forwardAuthPath, map[string]string{hdrDeviceID: f.low.ID}, ""},
		{"forward-auth/*", model.ScopeEvaluate, http.MethodGet, forwardAuthPath + "/app/x", map[string]string{hdrDeviceID: f.low.ID}, ""},
		{"metrics", model.ScopeMetrics, http.MethodGet, "/metrics", nil, ""},
		{"device", model.ScopeRead, http.MethodGet, "/api/v1/devices/" + f.low.ID, nil, ""},
		{"posture checks", model.ScopeRead, http.MethodGet, readChecksPath, nil, ""},
	}
	tokens := map[string]string{}
	for _, sc := range model.TokenScopes {
		tokens[sc], _ = createScoped(t, admin, "Only "+sc, []string{sc}, "")
	}
	refused, _ := createScoped(t, admin, "Refused only", []string{model.ScopeMetrics}, "")
	wantStatus(t, calls[0].do(t, e, refused), http.StatusForbidden)
	before, err := e.store.APITokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	errorsBefore, refusals := e.srv.apiSummary.errors.Load(), uint64(0)
	for _, held := range model.TokenScopes {
		for _, call := range calls {
			res := call.do(t, e, tokens[held])
			if held == call.scope {
				if res.StatusCode != http.StatusOK {
					t.Errorf("a %s token on %s: %d %.200s, want 200", held, call.name, res.StatusCode, res.body)
				}
				continue
			}
			wantStatus(t, res, http.StatusForbidden)
			refusals++
			want := "the API token lacks the " + call.scope + " scope"
			if strings.HasPrefix(call.path, forwardAuthPath) {
				if !strings.HasPrefix(res.Header.Get(hdrReason), want) || res.Header.Get(hdrAllowed) != "false" || res.Header.Get(hdrDevice) != "" {
					t.Errorf("a %s token on %s: reason %q, allowed %q", held, call.name, res.Header.Get(hdrReason), res.Header.Get(hdrAllowed))
				}
				continue
			}
			var msg struct{ Error string }
			if err := json.Unmarshal([]byte(res.body), &msg); err != nil || !strings.HasPrefix(msg.Error, want) {
				t.Errorf("a %s token on %s: %q, want JSON naming the %s scope", held, call.name, res.body, call.scope)
			}
		}
	}
	// A refusal is counted by the API summary as an error, not a denial.
	if got := e.srv.apiSummary.errors.Load() - errorsBefore; got != refusals {
		t.Errorf("the API summary counted %d errors for %d out-of-scope refusals", got, refusals)
	}
	e.srv.tokens.Flush(t.Context())
	after, err := e.store.APITokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range after {
		if after[i].Name == "Refused only" && after[i].LastUsedAt != nil {
			t.Error("a use outside the token's scope was recorded as its last use")
		}
		if !strings.HasPrefix(after[i].Name, "Only ") {
			continue
		}
		if after[i].LastUsedAt == nil || before[i].LastUsedAt != nil {
			t.Errorf("token %s: last used %v → %v, want its in-scope uses recorded", after[i].Name, before[i].LastUsedAt, after[i].LastUsedAt)
		}
	}

	// Expired: 401, as a revoked token.
	e.clock.Advance(-time.Hour) // created an hour ago…
	short, _ := createScoped(t, admin, "Short-lived", model.TokenScopes, "30")
	e.clock.Advance(30*24*time.Hour + time.Hour) // …and thirty days have passed
	for _, call := range calls {
		res := call.do(t, e, short)
		wantStatus(t, res, http.StatusUnauthorized)
		if !strings.Contains(res.body, "the API token has expired") || res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("expired on %s: %q", call.name, res.body)
		}
	}
}

// A token of a client that sends no scope field (created before scopes,
// or by a script) has evaluate and metrics; the form's bad input is
// refused with a clear message, keeps the input, and creates nothing.
func TestTokenCreateFormScopesAndExpiry(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.signedIn()
	page := parse(t, admin.get("/settings/api-tokens"))
	if boxes := page.Find(`input[type=checkbox][name=scope]`); boxes.Length() != 3 || page.Find(`input[name=scope][value=evaluate][checked]`).Length() != 1 ||
		page.Find(`input[name=scope][checked]`).Length() != 1 {
		t.Errorf("the form offers %d scope boxes, want evaluate, metrics, read with evaluate ticked", boxes.Length())
	}
	if text(page.Find(`label[for="token-expires"]`)) != "Expires" || page.Find(`select#token-expires option`).Length() != len(model.TokenExpiries) {
		t.Error("the form has no Expires choice")
	}

	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no scope", url.Values{"scopes_form": {"1"}}, "Choose at least one scope."},
		{"unknown scope", url.Values{"scopes_form": {"1"}, "scope": {"evaluate", "admin"}}, "Choose scopes from the list"},
		{"bad expiry", url.Values{"scope": {"evaluate"}, "expires": {"7"}}, "Choose when the token expires"},
		{"bad date", url.Values{"scope": {"evaluate"}, "expires": {"date"}, "expires_on": {"tomorrow"}}, "Use a date such as 2027-01-31."},
		{"past date", url.Values{"scope": {"evaluate"}, "expires": {"date"}, "expires_on": {"2026-11-01"}}, "Choose a date after today."},
	} {
		tc.form.Set("name", "Gateway "+tc.name)
		res := admin.post("/settings/api-tokens", tc.form)
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if !strings.Contains(res.body, tc.want) || !strings.Contains(res.body, `value="Gateway `+tc.name+`"`) {
			t.Errorf("%s: the message %q or the name is missing", tc.name, tc.want)
		}
	}
	if toks, err := e.store.APITokens(t.Context()); err != nil || len(toks) != 0 {
		t.Fatalf("refused forms created %d tokens (%v)", len(toks), err)
	}

	createToken(t, admin, "Script") // no scope field at all
	createScoped(t, admin, "Dated", []string{"metrics", "read"}, "")
	res := admin.post("/settings/api-tokens", url.Values{"name": {"Dated 2"}, "scopes_form": {"1"}, "scope": {"read"}, "expires": {"date"}, "expires_on": {"2026-12-31"}})
	wantStatus(t, res, http.StatusOK)
	toks, err := e.store.APITokens(t.Context())
	if err != nil || len(toks) != 3 {
		t.Fatalf("tokens %+v, %v", toks, err)
	}
	byName := map[string]model.APIToken{}
	for _, tk := range toks {
		byName[tk.Name] = tk
	}
	if got := byName["Script"].Scopes; !slices.Equal(got, []string{"evaluate", "metrics"}) {
		t.Errorf("a form without scope fields made a token with %q, want evaluate and metrics", got)
	}
	if got := byName["Dated 2"]; got.ExpiresAt == nil || got.ExpiresAt.Format(time.DateTime) != "2026-12-31 23:59:59" {
		t.Errorf("a dated token expires %v", got.ExpiresAt)
	}
	var details []string
	for _, a := range e.auditedAs(audit.APITokenCreated) {
		details = append(details, a.Detail)
	}
	if !slices.Contains(details, "scopes read; identity headers; expires 2026-12-31T23:59:59Z") ||
		!slices.Contains(details, "scopes metrics, read; identity headers; never expires") {
		t.Errorf("creations audited with %q", details)
	}
}

// After creation the page shows a curl line per scope, for this console's
// origin; the list shows scopes, expiry, Expired and a near expiry.
func TestTokenCurlLinesAndList(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.signedIn()
	token, res := createScoped(t, admin, "Everything", model.TokenScopes, "30")
	doc := parse(t, res)
	for sc, tail := range map[string]string{"evaluate": `'` + e.http.URL + `/api/v1/posture/evaluate'`,
		"metrics": `'` + e.http.URL + `/metrics'`, "read": `'` + e.http.URL + `/api/v1/posture-checks'`} {
		line := text(doc.Find(testID("curl-" + sc)))
		if !strings.HasPrefix(line, "curl -sS -H 'Authorization: Bearer "+token+"'") || !strings.HasSuffix(line, tail) {
			t.Errorf("curl line for %s: %q", sc, line)
		}
	}
	list := admin.get("/settings/api-tokens")
	if strings.Contains(list.body, token) {
		t.Fatal("the list shows the token again")
	}
	ld := parse(t, list)
	if got := column(ld, "Scopes"); !slices.Equal(got, []string{"Evaluate, Metrics, Read"}) {
		t.Errorf("Scopes column %q", got)
	}
	if got := column(ld, "Expires"); len(got) != 1 || got[0] != "2026-12-25" {
		t.Errorf("Expires column %q", got)
	}
	e.clock.Advance(17 * 24 * time.Hour) // 13 days left
	ld = parse(t, e.signedIn().get("/settings/api-tokens"))
	if got := column(ld, "Expires"); len(got) != 1 || !strings.Contains(got[0], "Expires soon") {
		t.Errorf("a token 13 days from expiry: Expires column %q", got)
	}
	e.clock.Advance(14 * 24 * time.Hour)
	ld = parse(t, e.signedIn().get("/settings/api-tokens"))
	if got := column(ld, "Status"); len(got) != 1 || got[0] != "Expired" {
		t.Errorf("an expired token's status %q", got)
	}
}

// The read API answers what the device page and the checks page show, in
// the evaluate answer's style; an unknown device is a JSON 404.
func TestReadAPI(t *testing.T) {
	d, _, f := evSetupDefender(t)
	e := d.testEnv
	evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Low", RequireOnboarded: true})
	token, _ := createScoped(t, e.signedIn(), "Reader", []string{model.ScopeRead}, "")
	get := func(path string) response { return scopeCall{method: http.MethodGet, path: path}.do(t, e, token) }

	for m, allowed := range map[string]bool{f.low.ID: true, f.high.ID: false} {
		res := get("/api/v1/devices/" + m)
		wantStatus(t, res, http.StatusOK)
		var a DeviceAnswer
		if err := json.Unmarshal([]byte(res.body), &a); err != nil {
			t.Fatal(err)
		}
		if a.Device.DefenderMachineID != m || a.Allowed != allowed || len(a.Checks) != 1 || a.Checks[0].Name != "Low risk only" ||
			a.Checks[0].Mode != posture.ModeEnforce || a.Device.RiskScore == nil || a.EvaluatedAt == "" {
			t.Errorf("device %s: %s", m, res.body)
		}
		if !allowed && (a.Checks[0].Result != "fail" || len(a.Checks[0].Reasons) == 0) {
			t.Errorf("device %s: the failing check has no reason: %+v", m, a.Checks[0])
		}
	}
	res := get("/api/v1/devices/" + strings.Repeat("0", 40))
	wantStatus(t, res, http.StatusNotFound)
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown device: %s %q", res.Header.Get("Content-Type"), res.body)
	}

	res = get(readChecksPath)
	wantStatus(t, res, http.StatusOK)
	var checks struct {
		Checks []struct {
			ID         int64          `json:"id"`
			Name       string         `json:"name"`
			Mode       string         `json:"mode"`
			Enabled    bool           `json:"enabled"`
			Source     string         `json:"source"`
			Conditions map[string]any `json:"conditions"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(res.body), &checks); err != nil {
		t.Fatal(err)
	}
	if len(checks.Checks) != 1 || checks.Checks[0].Name != "Low risk only" || checks.Checks[0].Mode != "enforce" || !checks.Checks[0].Enabled ||
		checks.Checks[0].Source != posture.SourceDefender || checks.Checks[0].Conditions["max_risk"] != "Low" || checks.Checks[0].Conditions["require_onboarded"] != true {
		t.Errorf("posture checks: %s", res.body)
	}
}
