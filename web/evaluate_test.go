package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
)

// evaluatePath is the enforcement API (docs/design.md#enforcement-api).
const evaluatePath = "/api/v1/posture/evaluate"

// evPost sends body to the enforcement API with a plain client (no cookies)
// and the given Authorization value ("" sends none).
func evPost(t *testing.T, e *testEnv, authz string, body io.Reader) response {
	t.Helper()
	return evPostWith(t, e, &http.Client{}, authz, body)
}

func evPostWith(t *testing.T, e *testEnv, hc *http.Client, authz string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+evaluatePath, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(b)}
}

// evError checks a JSON {"error": "…"} answer with status want and returns
// the message.
func evError(t *testing.T, res response, want int) string {
	t.Helper()
	wantStatus(t, res, want)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(res.body))
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("error body is not JSON: %v; body %.300q", err, res.body)
	}
	msg, ok := got["error"].(string)
	if !ok || len(got) != 1 || strings.TrimSpace(msg) == "" {
		t.Fatalf(`error body = %.300s, want exactly {"error": "<message>"}`, res.body)
	}
	return msg
}

// evResult is the enforcement API's answer, decoded strictly.
type evResult struct {
	Allowed bool `json:"allowed"`
	Device  struct {
		DefenderMachineID string `json:"defender_machine_id"`
		MatchedBy         string `json:"matched_by"`
	} `json:"device"`
	Checks []struct {
		ID      int64    `json:"id"`
		Name    string   `json:"name"`
		Mode    string   `json:"mode"`
		Result  string   `json:"result"`
		Reasons []string `json:"reasons"`
	} `json:"checks"`
	EvaluatedAt string `json:"evaluated_at"`
	ValidUntil  string `json:"valid_until"`
}

// check returns the verdict of the check named name.
func (r evResult) check(t *testing.T, name string) (result string, reasons []string) {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Result, c.Reasons
		}
	}
	t.Fatalf("the answer has no check %q: %+v", name, r.Checks)
	return "", nil
}

// evaluate asks about device (the "device" object) and decodes a 200
// answer, checking its shape against docs/design.md#enforcement-api on the way.
func evaluate(t *testing.T, e *testEnv, token string, device map[string]any) evResult {
	t.Helper()
	body, err := json.Marshal(map[string]any{"device": device})
	if err != nil {
		t.Fatal(err)
	}
	res := evPost(t, e, "Bearer "+token, bytes.NewReader(body))
	wantStatus(t, res, http.StatusOK)
	evCheckShape(t, res.body)
	var out evResult
	dec := json.NewDecoder(strings.NewReader(res.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("answer does not decode as the documented answer: %v\n%s", err, res.body)
	}
	return out
}

// evCheckShape holds the answer to the exact field names of docs/design.md#enforcement-api:
// reasons is an array (never null), evaluated_at RFC 3339 UTC.
func evCheckShape(t *testing.T, body string) {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("answer is not a JSON object: %v", err)
	}
	keys := func(m map[string]json.RawMessage) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if vu, ok := raw["valid_until"]; ok {
		var s string
		if err := json.Unmarshal(vu, &s); err != nil {
			t.Errorf("valid_until %s is not a string", vu)
		} else if ts, err := time.Parse(time.RFC3339, s); err != nil || ts.Location() != time.UTC {
			t.Errorf("valid_until %q is not RFC 3339 UTC", s)
		}
		delete(raw, "valid_until")
	}
	if got, want := keys(raw), []string{"allowed", "checks", "device", "evaluated_at"}; !slices.Equal(got, want) {
		t.Errorf("answer keys %v, want %v", got, want)
	}
	var dev map[string]json.RawMessage
	if err := json.Unmarshal(raw["device"], &dev); err != nil {
		t.Fatalf("device is not an object: %s", raw["device"])
	}
	for k := range dev {
		if k != "defender_machine_id" && k != "matched_by" {
			t.Errorf("device has unexpected key %q", k)
		}
	}
	if _, ok := dev["matched_by"]; !ok {
		t.Error("device lacks matched_by")
	}
	if string(raw["checks"]) == "null" {
		t.Error(`"checks" is null, want an array`)
	}
	var checks []map[string]json.RawMessage
	if err := json.Unmarshal(raw["checks"], &checks); err != nil {
		t.Fatalf("checks is not an array of objects: %s", raw["checks"])
	}
	for _, c := range checks {
		if got, want := keys(c), []string{"id", "mode", "name", "reasons", "result"}; !slices.Equal(got, want) {
			t.Errorf("check keys %v, want %v", got, want)
		}
		if r := strings.TrimSpace(string(c["reasons"])); !strings.HasPrefix(r, "[") {
			t.Errorf(`"reasons" is %s, want an array`, r)
		}
		var result string
		json.Unmarshal(c["result"], &result)
		if result != "pass" && result != "fail" && result != "unknown" {
			t.Errorf("result %q is not pass, fail or unknown", result)
		}
		var mode string
		json.Unmarshal(c["mode"], &mode)
		if mode != "enforce" && mode != "monitor" {
			t.Errorf("mode %q is not enforce or monitor", mode)
		}
	}
	var at string
	if err := json.Unmarshal(raw["evaluated_at"], &at); err != nil {
		t.Fatalf("evaluated_at is not a string: %s", raw["evaluated_at"])
	}
	ts, err := time.Parse(time.RFC3339, at)
	if err != nil || !strings.HasSuffix(at, "Z") || ts.Location() != time.UTC {
		t.Errorf("evaluated_at %q is not RFC 3339 UTC", at)
	}
}

// evToken signs in as the test admin (setup must have run) and creates an
// API token.
func evToken(t *testing.T, e *testEnv) string {
	t.Helper()
	return createToken(t, e.signedIn(), "Gateway "+strings.ReplaceAll(t.Name(), "/", " "))
}

// evSaveCheck stores a check and reloads the engine, as the editor would.
func evSaveCheck(t *testing.T, e *testEnv, c model.PostureCheck, spec posture.Spec) model.PostureCheck {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	c.Spec = string(raw)
	if c.Mode == "" {
		c.Mode = posture.ModeEnforce
	}
	if c.WhenUnavailable == "" {
		c.WhenUnavailable = posture.UnavailableDeny
	}
	ctx := context.Background()
	saved, err := e.store.SavePostureCheck(ctx, c, testEmail, audit.Entry{Actor: testEmail,
		Action: "posture_check.saved", Outcome: audit.Success})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.policy.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	return saved
}

func wantReason(t *testing.T, what string, reasons []string, parts ...string) {
	t.Helper()
	for _, r := range reasons {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(r, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("%s: no reason contains all of %q; reasons %q", what, parts, reasons)
}

// docs/security.md#item-17: the enforcement API takes a bearer token and nothing else.
func TestEvaluateRequiresToken(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.signedIn()
	token := createToken(t, admin, "Gateway eu-west")
	body := func() io.Reader { return strings.NewReader(`{"device":{"hostname":"laptop-1"}}`) }

	cases := []struct{ name, authz string }{
		{"no Authorization", ""},
		{"empty bearer", "Bearer "},
		{"wrong token", "Bearer pst_wrongwrongwrongwrongwrongwrong"},
		{"token with one character changed", "Bearer " + token[:len(token)-1] + flipLast(token)},
		{"token prefix only", "Bearer " + token[:12]},
		{"right token, Basic scheme", "Basic " + token},
		{"right token, no scheme", token},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := evPost(t, e, tc.authz, body())
			evError(t, res, http.StatusUnauthorized)
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", res.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(res.body, token) {
				t.Error("the 401 echoes the token")
			}
		})
	}

	t.Run("signed-in admin's cookie, no token", func(t *testing.T) {
		if admin.cookie(sessionCookie) == nil {
			t.Fatal("the admin client holds no session cookie")
		}
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+evaluatePath, body())
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if c := admin.cookie("postern_csrf"); c != nil {
			req.Header.Set("X-CSRF-Token", c.Value)
		}
		res, err := admin.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		evError(t, response{Response: res, body: string(b)}, http.StatusUnauthorized)
		// The admin's session still works for the console: the cookie was
		// sent and simply does not count here.
		wantStatus(t, admin.get("/"), http.StatusOK)
	})

	t.Run("valid token", func(t *testing.T) {
		for _, authz := range []string{"Bearer " + token, "bearer " + token} {
			wantStatus(t, evPost(t, e, authz, body()), http.StatusOK)
		}
	})

	t.Run("revoked token", func(t *testing.T) {
		toks, err := e.store.APITokens(context.Background())
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens %+v, %v", toks, err)
		}
		wantRedirect(t, admin.post("/settings/api-tokens/"+itoa(toks[0].ID)+"/revoke", url.Values{}), "/settings/api-tokens")
		msg := evError(t, evPost(t, e, "Bearer "+token, body()), http.StatusUnauthorized)
		if !strings.Contains(msg, "revoked") {
			t.Errorf("401 for a revoked token says %q", msg)
		}
		// A token created after the revocation works; the old one still not.
		fresh := createToken(t, admin, "Gateway eu-west 2")
		wantStatus(t, evPost(t, e, "Bearer "+fresh, body()), http.StatusOK)
		evError(t, evPost(t, e, "Bearer "+token, body()), http.StatusUnauthorized)
	})
}

func flipLast(s string) string {
	if s[len(s)-1] == 'a' {
		return "b"
	}
	return "a"
}

// Malformed input gets 400 and a message that names the problem, never the
// value that caused it.
func TestEvaluateRejectsMalformedBodies(t *testing.T) {
	e := newAdminEnv(t)
	authz := "Bearer " + evToken(t, e)
	const secret = "SENTINELvalue9f8e7d"
	long := strings.Repeat("S", 256)

	cases := []struct {
		name, body string
		want       string // in the message
	}{
		{"invalid JSON", `{"device": {"hostname": "` + secret + `"`, "JSON"},
		{"not JSON at all", secret, "JSON"},
		{"empty body", ``, "empty"},
		{"whitespace only", "  \n\t ", "empty"},
		{"top-level array", `[{"device":{"hostname":"` + secret + `"}}]`, "JSON"},
		{"top-level string", `"` + secret + `"`, "JSON"},
		{"JSON null", `null`, `"device" is required`},
		{"unknown top-level field", `{"device":{"hostname":"laptop-1"},"extra":"` + secret + `"}`, "extra"},
		{"unknown field inside device", `{"device":{"hostname":"laptop-1","serial":"` + secret + `"}}`, "serial"},
		{"firewall is a string", `{"device":{"hostname":"laptop-1","firewall":"` + secret + `"}}`, "firewall"},
		{"firewall is yes", `{"device":{"hostname":"laptop-1","firewall":"yes"}}`, "firewall"},
		{"hostname is a number", `{"device":{"hostname":12345678901234567890}}`, "hostname"},
		{"disk_encrypted is a number", `{"device":{"hostname":"laptop-1","disk_encrypted":1}}`, "disk_encrypted"},
		{"device is a string", `{"device":"` + secret + `"}`, "device"},
		{"device is an array", `{"device":["` + secret + `"]}`, "device"},
		{"missing device", `{}`, `"device" is required`},
		{"device is null", `{"device":null}`, `"device" is required`},
		{"no identifier", `{"device":{"os":"Windows","os_version":"10.0.22631","firewall":true}}`, "at least one of"},
		{"empty identifiers", `{"device":{"defender_machine_id":"","aad_device_id":"","hostname":""}}`, "at least one of"},
		{"blank identifiers", `{"device":{"defender_machine_id":"  ","hostname":"\t"}}`, "at least one of"},
		{"trailing object", `{"device":{"hostname":"laptop-1"}} {"device":{"hostname":"` + secret + `"}}`, "after"},
		{"trailing garbage", `{"device":{"hostname":"laptop-1"}}` + secret, "after"},
		{"trailing number", `{"device":{"hostname":"laptop-1"}} 1`, "after"},
		{"hostname over 255", `{"device":{"hostname":"` + long + `"}}`, "hostname"},
		{"defender id over 255", `{"device":{"defender_machine_id":"` + long + `"}}`, "defender_machine_id"},
		{"aad id over 255", `{"device":{"aad_device_id":"` + long + `"}}`, "aad_device_id"},
		{"os over 255", `{"device":{"hostname":"laptop-1","os":"` + long + `"}}`, `"os"`},
		{"os_version over 255", `{"device":{"hostname":"laptop-1","os_version":"` + long + `"}}`, "os_version"},
		{"client_version over 255", `{"device":{"hostname":"laptop-1","client_version":"` + long + `"}}`, "client_version"},
		{"name in another case", `{"Device":{"hostname":"laptop-1"}}`, `unknown field "Device"`},
		{"field name in another case", `{"device":{"HostName":"` + secret + `"}}`, `unknown field "HostName"`},
		{"repeated field", `{"device":{"hostname":"laptop-1","hostname":"` + secret + `"}}`, `"hostname" appears twice`},
		{"repeated device", `{"device":{"hostname":"laptop-1"},"device":{"hostname":"` + secret + `"}}`, `"device" appears twice`},
		{"invalid UTF-8", "{\"device\":{\"hostname\":\"laptop\xff` + secret + `\"}}", "invalid UTF-8"},
		{"NUL in hostname", `{"device":{"hostname":"laptop\u0000` + secret + `"}}`, "hostname"},
		{"newline in hostname", `{"device":{"hostname":"laptop\n` + secret + `"}}`, "hostname"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := evPost(t, e, authz, strings.NewReader(tc.body))
			msg := evError(t, res, http.StatusBadRequest)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("message %q does not contain %q", msg, tc.want)
			}
			for _, v := range []string{secret, long, "yes", "12345678901234567890"} {
				if strings.Contains(res.body, v) {
					t.Errorf("the error echoes the input value %.20q…: %s", v, res.body)
				}
			}
		})
	}

	t.Run("long unknown field name is cut between characters", func(t *testing.T) {
		name := strings.Repeat("é", 100) // 200 bytes
		res := evPost(t, e, authz, strings.NewReader(`{"device":{"hostname":"laptop-1"},"`+name+`":1}`))
		msg := evError(t, res, http.StatusBadRequest)
		if !utf8.ValidString(msg) || strings.ContainsRune(msg, utf8.RuneError) {
			t.Fatalf("message %q is not clean UTF-8", msg)
		}
		if want := `unknown field "` + strings.Repeat("é", 32) + `…"`; !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	})

	t.Run("exactly 255 is fine", func(t *testing.T) {
		v := strings.Repeat("h", 255)
		wantStatus(t, evPost(t, e, authz, strings.NewReader(`{"device":{"hostname":"`+v+`","os":"`+v+`"}}`)), http.StatusOK)
	})

	t.Run("body over 64 KiB", func(t *testing.T) {
		big := `{"device":{"hostname":"laptop-1","os":"` + strings.Repeat("x", 70<<10) + `"}}`
		msg := evError(t, evPost(t, e, authz, strings.NewReader(big)), http.StatusRequestEntityTooLarge)
		if !strings.Contains(msg, "64 KiB") {
			t.Errorf("413 message %q does not name the limit", msg)
		}
		// The same without a Content-Length (chunked).
		evError(t, evPost(t, e, authz, io.MultiReader(strings.NewReader(big))), http.StatusRequestEntityTooLarge)
		// A body of many megabytes is cut off, not read whole.
		huge := io.MultiReader(strings.NewReader(`{"device":{"hostname":"`), &evRepeatReader{b: 'a', n: 64 << 20})
		evError(t, evPost(t, e, authz, huge), http.StatusRequestEntityTooLarge)
	})

	t.Run("64 KiB exactly is read", func(t *testing.T) {
		obj := `{"device":{"hostname":"laptop-1"}}`
		pad := strings.Repeat(" ", 64<<10-len(obj))
		wantStatus(t, evPost(t, e, authz, strings.NewReader(obj+pad)), http.StatusOK)
		evError(t, evPost(t, e, authz, strings.NewReader(obj+pad+" ")), http.StatusRequestEntityTooLarge)
	})

	t.Run("valid bodies", func(t *testing.T) {
		for _, b := range []string{
			`{"device":{"hostname":"laptop-1"}}`,
			`{"device":{"defender_machine_id":"abc"}}` + "\n",
			`  {"device":{"aad_device_id":"6B1D2E3F-4A5B-4C6D-8E9F-000000000001","firewall":null}}  `,
			`{"device":{"defender_machine_id":"…","aad_device_id":"…","hostname":"…","os":"Windows","os_version":"10.0.22631","firewall":true,"disk_encrypted":true,"client_version":"1.4.2"}}`,
			`{"device":{"hostname":"\u00fcber-laptop","os":"macOS 🍎"}}`,
		} {
			res := evPost(t, e, authz, strings.NewReader(b))
			wantStatus(t, res, http.StatusOK)
			evCheckShape(t, res.body)
		}
	})
}

// evRepeatReader yields n copies of b.
type evRepeatReader struct {
	b byte
	n int
}

func (r *evRepeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}

// Trailing data is refused whatever it is. json.Decoder.More reports false
// for a following '}' or ']', so `{…}}` and `{…}]` slip through the
// "data after the JSON object" test in DecodeEvaluateRequest.
func TestEvaluateRejectsTrailingCloseBracket(t *testing.T) {
	for _, body := range []string{
		`{"device":{"hostname":"laptop-1"}}}`,
		`{"device":{"hostname":"laptop-1"}}]`,
		`{"device":{"hostname":"laptop-1"}} ]]]}}}`,
	} {
		if _, err := DecodeEvaluateRequest(strings.NewReader(body)); err == nil {
			t.Errorf("DecodeEvaluateRequest(%q) accepted trailing data, want an error", body)
		}
	}
}

// The answer's shape with nothing configured: allowed, no checks, "none".
func TestEvaluateShapeWithoutChecks(t *testing.T) {
	e := newAdminEnv(t)
	token := evToken(t, e)
	res := evPost(t, e, "Bearer "+token, strings.NewReader(`{"device":{"hostname":"laptop-1"}}`))
	wantStatus(t, res, http.StatusOK)
	evCheckShape(t, res.body)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	want := `{"allowed":true,"device":{"matched_by":"none"},"checks":[],"evaluated_at":"2026-11-25T10:00:00Z"}`
	if got := strings.TrimSpace(res.body); got != want {
		t.Errorf("answer\n got %s\nwant %s", got, want)
	}
}

// evFleet is the Defender fixture: named machines with known signals, put
// into the emulator's fleet before the first sync.
type evFleet struct {
	high, low, noRisk emulator.Machine
	dupOld, dupNew    emulator.Machine // a reinstall: same host name
}

func evSetupDefender(t *testing.T) (*defenderEnv, string, evFleet) {
	t.Helper()
	d := newDefenderEnv(t, emulator.DemoClientSecret)
	var f evFleet
	d.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		if len(ms) < 5 {
			t.Fatalf("emulator has %d machines", len(ms))
		}
		str := func(s string) *string { return &s }
		set := func(m *emulator.Machine, host, aad, risk string) {
			m.ComputerDNSName = host
			m.AADDeviceID, m.IsAADJoined = str(aad), true
			m.RiskScore = str(risk)
			m.MergedIntoMachineID, m.IsPotentialDuplication = nil, false
			m.HealthStatus, m.OnboardingStatus = "Active", "Onboarded"
			m.LastSeen = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		}
		set(&ms[0], "EV-High-01.corp.example.com", "aaaaaaaa-0000-4000-8000-000000000001", "High")
		set(&ms[1], "ev-low-01.corp.example.com", "aaaaaaaa-0000-4000-8000-000000000002", "Low")
		set(&ms[2], "ev-norisk-01.corp.example.com", "aaaaaaaa-0000-4000-8000-000000000003", "Low")
		ms[2].RiskScore = nil // Defender reports null
		set(&ms[3], "ev-dup-01.corp.example.com", "aaaaaaaa-0000-4000-8000-000000000004", "High")
		set(&ms[4], "ev-dup-01.corp.example.com", "aaaaaaaa-0000-4000-8000-000000000005", "Low")
		ms[3].HealthStatus, ms[3].IsPotentialDuplication = "Inactive", true
		ms[3].LastSeen = ms[4].LastSeen.Add(-48 * time.Hour)
		f.high, f.low, f.noRisk, f.dupOld, f.dupNew = ms[0], ms[1], ms[2], ms[3], ms[4]
		return ms
	})
	c := d.signedIn()
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(emulator.DemoClientSecret)), "/settings/integrations")
	d.waitSynced(t)
	if run := d.worker.Status().LastRun; run == nil || run.Outcome != model.RunSuccess {
		t.Fatalf("first sync: %+v", run)
	}
	snap := d.fleet.Load()
	if snap.Len() != len(d.emu.Machines()) {
		t.Fatalf("snapshot holds %d devices, emulator %d", snap.Len(), len(d.emu.Machines()))
	}
	for _, m := range []emulator.Machine{f.high, f.low, f.noRisk} {
		if _, ok := snap.ByID(m.ID); !ok {
			t.Fatalf("machine %s (%s) is not in the snapshot", m.ID, m.ComputerDNSName)
		}
	}
	return d, createToken(t, c, "Gateway eu-west"), f
}

// evDataFrom is the age suffix of Defender reasons: the sync finished at
// the fake clock's time.
const evDataFrom = "Defender data from 2026-11-25T10:00:00Z"

func TestEvaluateDefenderDecisions(t *testing.T) {
	d, token, f := evSetupDefender(t)
	e := d.testEnv
	lowRisk := evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Medium"})

	t.Run("high risk is denied", func(t *testing.T) {
		r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.high.ID})
		if r.Allowed {
			t.Error("a High-risk device is allowed")
		}
		if r.Device.DefenderMachineID != f.high.ID || r.Device.MatchedBy != "defender_machine_id" {
			t.Errorf("device = %+v, want %s by defender_machine_id", r.Device, f.high.ID)
		}
		if len(r.Checks) != 1 || r.Checks[0].ID != lowRisk.ID || r.Checks[0].Mode != "enforce" {
			t.Fatalf("checks = %+v", r.Checks)
		}
		res, reasons := r.check(t, "Low risk only")
		if res != "fail" || len(reasons) != 1 {
			t.Fatalf("result %q reasons %q, want fail with one reason", res, reasons)
		}
		want := "risk score High exceeds the allowed Medium (" + evDataFrom + ")"
		if reasons[0] != want {
			t.Errorf("reason\n got %q\nwant %q", reasons[0], want)
		}
		if r.EvaluatedAt != "2026-11-25T10:00:00Z" {
			t.Errorf("evaluated_at %q, want the server clock", r.EvaluatedAt)
		}
	})

	// Answers are built in recycled arrays (decide's answer pool): many at
	// once, evaluate and forward-auth interleaved, each holds its own
	// device, verdict and reason, never another's.
	t.Run("concurrent answers stay apart", func(t *testing.T) {
		u, err := url.Parse(e.http.URL)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				conn, err := dialLoad(e.http.URL+evaluatePath, "Bearer "+token)
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				for i := range 60 {
					dev, allowed := f.low.ID, true
					if (g+i)%2 == 0 {
						dev, allowed = f.high.ID, false
					}
					if i%3 == 0 {
						status, body, err := conn.do(fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\n%s: %s\r\n%s: %s\r\n\r\n",
							forwardAuthPath, u.Host, hdrToken, token, hdrDeviceID, dev))
						want := "allowed\n"
						if !allowed {
							want = "denied: risk score High exceeds the allowed Medium (" + evDataFrom + ")\n"
						}
						if err != nil || string(body) != want || (status == http.StatusOK) != allowed {
							t.Errorf("forward-auth for %s: %d %q %v, want %q", dev, status, body, err, want)
							return
						}
						continue
					}
					status, body, err := conn.post([]byte(`{"device":{"defender_machine_id":"` + dev + `"}}`))
					var r evResult
					if err == nil {
						err = json.Unmarshal(body, &r)
					}
					if err != nil || status != http.StatusOK || r.Device.DefenderMachineID != dev || r.Allowed != allowed ||
						len(r.Checks) != 1 || len(r.Checks[0].Reasons) != map[bool]int{true: 0, false: 1}[allowed] {
						t.Errorf("evaluate for %s: %d %s %v", dev, status, body, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})

	t.Run("low risk is allowed", func(t *testing.T) {
		r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.low.ID})
		res, reasons := r.check(t, "Low risk only")
		if !r.Allowed || res != "pass" || len(reasons) != 0 {
			t.Errorf("allowed %v result %q reasons %q, want allowed pass with none", r.Allowed, res, reasons)
		}
	})

	t.Run("matched_by follows the key", func(t *testing.T) {
		host := f.high.ComputerDNSName
		cases := []struct {
			name   string
			device map[string]any
			want   string
		}{
			{"defender id", map[string]any{"defender_machine_id": f.high.ID}, "defender_machine_id"},
			{"defender id, upper case", map[string]any{"defender_machine_id": strings.ToUpper(f.high.ID)}, "defender_machine_id"},
			{"defender id wins over others", map[string]any{"defender_machine_id": f.high.ID, "aad_device_id": *f.low.AADDeviceID, "hostname": f.low.ComputerDNSName}, "defender_machine_id"},
			{"entra id", map[string]any{"aad_device_id": *f.high.AADDeviceID}, "aad_device_id"},
			{"entra id, upper case", map[string]any{"aad_device_id": strings.ToUpper(*f.high.AADDeviceID)}, "aad_device_id"},
			{"unknown defender id falls back to entra", map[string]any{"defender_machine_id": "ffffffffffffffffffffffffffffffffffffffff", "aad_device_id": *f.high.AADDeviceID}, "aad_device_id"},
			{"host FQDN", map[string]any{"hostname": host}, "hostname"},
			{"host FQDN, lower case", map[string]any{"hostname": strings.ToLower(host)}, "hostname"},
			{"host first label", map[string]any{"hostname": "ev-HIGH-01"}, "hostname"},
			{"host with trailing dot", map[string]any{"hostname": host + "."}, "hostname"},
			{"unknown entra id falls back to host", map[string]any{"aad_device_id": "bbbbbbbb-0000-4000-8000-000000000009", "hostname": "ev-high-01"}, "hostname"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := evaluate(t, e, token, tc.device)
				if r.Device.MatchedBy != tc.want || r.Device.DefenderMachineID != f.high.ID {
					t.Errorf("device = %+v, want %s by %s", r.Device, f.high.ID, tc.want)
				}
				if res, _ := r.check(t, "Low risk only"); r.Allowed || res != "fail" {
					t.Errorf("allowed %v result %q, want denied by a fail", r.Allowed, res)
				}
			})
		}
	})

	t.Run("a reinstall resolves to the live machine", func(t *testing.T) {
		r := evaluate(t, e, token, map[string]any{"hostname": "ev-dup-01"})
		if r.Device.DefenderMachineID != f.dupNew.ID || r.Device.MatchedBy != "hostname" {
			t.Errorf("device = %+v, want the live record %s", r.Device, f.dupNew.ID)
		}
		if !r.Allowed {
			t.Errorf("the live (Low) record is denied: %+v", r.Checks)
		}
	})

	t.Run("null risk score is unknown", func(t *testing.T) {
		r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.noRisk.ID})
		res, reasons := r.check(t, "Low risk only")
		if r.Allowed || res != "unknown" {
			t.Errorf("allowed %v result %q, want denied as unknown", r.Allowed, res)
		}
		wantReason(t, "null risk", reasons, "risk score not reported", "Medium", evDataFrom)
	})

	t.Run("unknown device under deny", func(t *testing.T) {
		r := evaluate(t, e, token, map[string]any{"hostname": "not-in-defender.example.com", "aad_device_id": "cccccccc-0000-4000-8000-000000000000"})
		res, reasons := r.check(t, "Low risk only")
		if r.Allowed || res != "unknown" {
			t.Errorf("allowed %v result %q, want denied as unknown", r.Allowed, res)
		}
		if r.Device.MatchedBy != "none" || r.Device.DefenderMachineID != "" {
			t.Errorf("device = %+v, want no match", r.Device)
		}
		wantReason(t, "unknown device", reasons, "no Defender machine matches", evDataFrom)
	})

	t.Run("unknown device under allow", func(t *testing.T) {
		lowRisk.WhenUnavailable = posture.UnavailableAllow
		raw := lowRisk.Spec
		var spec posture.Spec
		json.Unmarshal([]byte(raw), &spec)
		evSaveCheck(t, e, lowRisk, spec)
		defer func() {
			lowRisk.WhenUnavailable = posture.UnavailableDeny
			evSaveCheck(t, e, lowRisk, spec)
		}()
		r := evaluate(t, e, token, map[string]any{"hostname": "not-in-defender.example.com"})
		res, reasons := r.check(t, "Low risk only")
		if !r.Allowed || res == "fail" {
			t.Errorf("allowed %v result %q, want allowed", r.Allowed, res)
		}
		// The reason stays as information.
		wantReason(t, "unknown device under allow", reasons, "no Defender machine matches")
		// Allow never lets a failing device through.
		if r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.high.ID}); r.Allowed {
			t.Error("WhenUnavailable allow let a failing device through")
		}
	})

	t.Run("monitor-only failures never deny", func(t *testing.T) {
		mon := evSaveCheck(t, e, model.PostureCheck{Name: "Watch risk", DataSource: posture.SourceDefender, Enabled: true,
			Mode: posture.ModeMonitor}, posture.Spec{MaxRisk: "None"})
		defer func() {
			mon.Enabled = false
			evSaveCheck(t, e, mon, posture.Spec{MaxRisk: "None"})
		}()
		r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.low.ID})
		res, reasons := r.check(t, "Watch risk")
		if !r.Allowed || res != "fail" {
			t.Errorf("allowed %v monitor result %q, want allowed with the monitor check failing", r.Allowed, res)
		}
		wantReason(t, "monitor", reasons, "risk score Low exceeds the allowed None", evDataFrom)
		for _, c := range r.Checks {
			if c.Name == "Watch risk" && c.Mode != "monitor" {
				t.Errorf("mode %q, want monitor", c.Mode)
			}
		}
		// Unknown in monitor mode does not deny either.
		lowRisk.Enabled = false
		var spec posture.Spec
		json.Unmarshal([]byte(lowRisk.Spec), &spec)
		evSaveCheck(t, e, lowRisk, spec)
		defer func() {
			lowRisk.Enabled = true
			evSaveCheck(t, e, lowRisk, spec)
		}()
		r = evaluate(t, e, token, map[string]any{"hostname": "not-in-defender"})
		if res, _ := r.check(t, "Watch risk"); !r.Allowed || res != "unknown" {
			t.Errorf("allowed %v result %q for an unknown device under a monitor check", r.Allowed, res)
		}
		if len(r.Checks) != 1 {
			t.Errorf("a disabled check is listed: %+v", r.Checks)
		}
	})

	// The default outage grace (4 hours) keeps stale data in use, and
	// every reason says so; after it, stale data is unknown.
	t.Run("stale data is kept during the outage grace", func(t *testing.T) {
		e.clock.Advance(3*time.Hour + time.Minute)
		defer e.clock.Advance(-(3*time.Hour + time.Minute))
		r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.high.ID})
		res, reasons := r.check(t, "Low risk only")
		if r.Allowed || res != "fail" {
			t.Errorf("allowed %v result %q for a High-risk device on kept data, want denied as fail", r.Allowed, res)
		}
		wantReason(t, "kept", reasons, "High", "2026-11-25T10:00:00Z, kept during an outage")
	})
	t.Run("stale data is unknown after the outage grace", func(t *testing.T) {
		e.clock.Advance(7*time.Hour + time.Minute)
		defer e.clock.Advance(-(7*time.Hour + time.Minute))
		r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.low.ID})
		res, reasons := r.check(t, "Low risk only")
		if r.Allowed || res != "unknown" {
			t.Errorf("allowed %v result %q on stale data, want denied as unknown", r.Allowed, res)
		}
		wantReason(t, "stale", reasons, "stale", "2026-11-25T10:00:00Z")
	})

	// Last: Disable changes the integration for the rest of the test.
	t.Run("disabled integration", func(t *testing.T) {
		c := d.signedIn()
		wantRedirect(t, c.post("/settings/integrations/defender/disable", url.Values{}), "/settings/integrations")
		for _, m := range []emulator.Machine{f.high, f.low} {
			r := evaluate(t, e, token, map[string]any{"defender_machine_id": m.ID})
			res, reasons := r.check(t, "Low risk only")
			if r.Allowed || res != "unknown" {
				t.Errorf("%s: allowed %v result %q while disabled, want denied as unknown", m.ComputerDNSName, r.Allowed, res)
			}
			wantReason(t, "disabled", reasons, "data source is disabled")
			// The device is still matched from the kept snapshot.
			if r.Device.DefenderMachineID != m.ID {
				t.Errorf("device = %+v", r.Device)
			}
		}
		wantRedirect(t, c.post("/settings/integrations/defender/enable", url.Values{}), "/settings/integrations")
		d.waitSynced(t)
		if r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.low.ID}); !r.Allowed {
			t.Errorf("after Enable the Low-risk device is denied: %+v", r.Checks)
		}
	})
}

// Device report checks judge what the gateway sends, also for devices
// Defender does not know.
func TestEvaluateDeviceReport(t *testing.T) {
	e := newAdminEnv(t)
	token := evToken(t, e)
	evSaveCheck(t, e, model.PostureCheck{Name: "Firewall on", DataSource: posture.SourceDeviceReport, Enabled: true},
		posture.Spec{ReportFirewall: true})

	fw := func(v any) evResult {
		dev := map[string]any{"hostname": "byod-laptop-7"}
		if v != nil {
			dev["firewall"] = v
		}
		return evaluate(t, e, token, dev)
	}
	r := fw(false)
	res, reasons := r.check(t, "Firewall on")
	if r.Allowed || res != "fail" {
		t.Errorf("firewall false: allowed %v result %q, want denied by a fail", r.Allowed, res)
	}
	wantReason(t, "firewall off", reasons, "firewall off", "required on")

	r = fw(true)
	if res, reasons := r.check(t, "Firewall on"); !r.Allowed || res != "pass" || len(reasons) != 0 {
		t.Errorf("firewall true: allowed %v result %q reasons %q, want a clean pass", r.Allowed, res, reasons)
	}
	if r.Device.MatchedBy != "none" {
		t.Errorf("matched_by %q for a device Defender does not know", r.Device.MatchedBy)
	}

	r = fw(nil)
	res, reasons = r.check(t, "Firewall on")
	if r.Allowed || res != "unknown" {
		t.Errorf("firewall not reported: allowed %v result %q, want denied as unknown", r.Allowed, res)
	}
	wantReason(t, "firewall missing", reasons, "firewall not reported")

	// More report conditions together: every failing one gives a reason.
	evSaveCheck(t, e, model.PostureCheck{Name: "Managed laptop", DataSource: posture.SourceDeviceReport, Enabled: true},
		posture.Spec{ReportOS: []string{"Windows", "macOS"}, ReportMinOSVersion: "10.0.22631", ReportDiskEncrypted: true,
			ReportMinClientVersion: "1.4.2"})
	good := map[string]any{"hostname": "byod-laptop-7", "os": "Windows", "os_version": "10.0.26100", "firewall": true,
		"disk_encrypted": true, "client_version": "1.5.0"}
	if r := evaluate(t, e, token, good); !r.Allowed {
		t.Errorf("a compliant report is denied: %+v", r.Checks)
	}
	bad := map[string]any{"hostname": "byod-laptop-7", "os": "Linux", "os_version": "10.0.19045", "firewall": true,
		"disk_encrypted": false, "client_version": "1.4.1"}
	r = evaluate(t, e, token, bad)
	res, reasons = r.check(t, "Managed laptop")
	if r.Allowed || res != "fail" || len(reasons) != 4 {
		t.Errorf("a bad report: allowed %v result %q reasons %q, want denied with four reasons", r.Allowed, res, reasons)
	}
	wantReason(t, "os", reasons, "Linux")
	wantReason(t, "os version", reasons, "10.0.19045", "10.0.22631")
	wantReason(t, "disk", reasons, "disk encryption off")
	wantReason(t, "client", reasons, "1.4.1", "1.4.2")
}

// An exception turns a failure into a pass until it expires.
func TestEvaluateExceptions(t *testing.T) {
	d, token, f := evSetupDefender(t)
	e := d.testEnv
	ctx := context.Background()
	lowRisk := evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Medium"})
	other := evSaveCheck(t, e, model.PostureCheck{Name: "Entra joined", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{RequireEntraJoined: true})
	addException := func(device string, check int64, expires time.Time, reason string) {
		t.Helper()
		_, err := e.store.CreateException(ctx, model.Exception{DeviceID: device, CheckID: check, Reason: reason,
			ExpiresAt: expires, CreatedBy: testEmail}, audit.Entry{Actor: testEmail, Action: "posture_exception.created",
			Outcome: audit.Success})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.policy.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ask := func() evResult { return evaluate(t, e, token, map[string]any{"hostname": "ev-high-01"}) }

	if r := ask(); r.Allowed {
		t.Fatal("the High-risk device is allowed before any exception")
	}

	// Already expired: ignored.
	addException(f.high.ID, lowRisk.ID, e.clock.Now().Add(-time.Minute), "expired waiver")
	if r := ask(); r.Allowed {
		t.Error("an expired exception lets the device through")
	}
	// For another check: ignored.
	addException(f.high.ID, other.ID, e.clock.Now().Add(24*time.Hour), "other check")
	if r := ask(); r.Allowed {
		t.Error("an exception for another check lets the device through")
	}
	// For another device: ignored.
	addException(f.low.ID, lowRisk.ID, e.clock.Now().Add(24*time.Hour), "other device")
	if r := ask(); r.Allowed {
		t.Error("an exception for another device lets the device through")
	}

	// For this device and check, expiring in two hours.
	until := e.clock.Now().Add(2 * time.Hour)
	addException(f.high.ID, lowRisk.ID, until, "CFO laptop, reimage booked")
	r := ask()
	res, reasons := r.check(t, "Low risk only")
	if !r.Allowed || res != "pass" {
		t.Fatalf("with an exception: allowed %v result %q reasons %q, want allowed pass", r.Allowed, res, reasons)
	}
	wantReason(t, "exception", reasons, "exception by "+testEmail, "until 2026-11-25", "CFO laptop, reimage booked")
	// The failure stays visible next to the exception.
	wantReason(t, "excepted failure", reasons, "risk score High exceeds the allowed Medium")

	// It expires while loaded: it stops applying without a reload.
	e.clock.Advance(2*time.Hour + time.Second)
	if r := ask(); r.Allowed {
		t.Error("an exception that has expired still lets the device through")
	}
	if err := e.policy.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if r := ask(); r.Allowed {
		t.Error("after a reload an expired exception still lets the device through")
	}

	// An exception for every check (no check id).
	addException(strings.ToUpper(f.high.ID), 0, e.clock.Now().Add(time.Hour), "all checks")
	r = ask()
	if !r.Allowed {
		t.Errorf("an exception for every check (upper-case id) does not apply: %+v", r.Checks)
	} else {
		_, reasons := r.check(t, "Low risk only")
		wantReason(t, "all checks", reasons, "exception by", "all checks")
	}
}

// The snapshot a request reads is the one published: a newly stored
// snapshot answers at once (no database on the hot path).
func TestEvaluateReadsTheSnapshot(t *testing.T) {
	e := newAdminEnv(t)
	token := evToken(t, e)
	evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Medium"})
	// Defender is not configured: Defender conditions are unknown, whatever
	// the snapshot says.
	e.fleet.Store(fleet.NewSnapshot([]fleet.Device{{ID: "0123456789abcdef0123456789abcdef01234567", Host: "snap-1",
		RiskScore: "Low"}}, e.clock.Now(), 1))
	r := evaluate(t, e, token, map[string]any{"hostname": "snap-1"})
	if r.Device.DefenderMachineID != "0123456789abcdef0123456789abcdef01234567" || r.Device.MatchedBy != "hostname" {
		t.Errorf("device = %+v, want the stored snapshot's device", r.Device)
	}
	if res, reasons := r.check(t, "Low risk only"); r.Allowed || res != "unknown" {
		t.Errorf("allowed %v result %q reasons %q with Defender not configured", r.Allowed, res, reasons)
	} else {
		wantReason(t, "not configured", reasons, "data source is disabled")
	}
}

// A body of the wrong JSON type is refused in the API's own words: the
// message names the JSON type expected, not a Go type of the server
// ("must be a web.EvaluateDevice"), and never an empty field name.
func TestEvaluateTypeErrorsUseJSONTypeNames(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"device":"laptop-1"}`, "object"},
		{`{"device":["laptop-1"]}`, "object"},
		{`{"device":42}`, "object"},
		{`["laptop-1"]`, "object"},
		{`"laptop-1"`, "object"},
		{`42`, "object"},
	}
	for _, tc := range cases {
		_, err := DecodeEvaluateRequest(strings.NewReader(tc.body))
		if err == nil {
			t.Errorf("DecodeEvaluateRequest(%q) = nil error", tc.body)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "web.") || strings.Contains(msg, `""`) || !strings.Contains(msg, tc.want) {
			t.Errorf("DecodeEvaluateRequest(%q): message %q, want it to say a JSON %s is expected (no Go type, no empty name)", tc.body, msg, tc.want)
		}
	}
}

// Whatever goes wrong under /api/, the caller gets JSON, not an HTML page:
// another method, an unknown path, a body announced over the 1 MiB limit.
func TestAPIErrorsAreJSON(t *testing.T) {
	e := newAdminEnv(t)
	authz := "Bearer " + evToken(t, e)
	do := func(method, path string, body io.Reader, header http.Header) response {
		t.Helper()
		req, err := http.NewRequest(method, e.http.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{Response: res, body: string(b)}
	}
	h := http.Header{"Authorization": {authz}}
	get := do(http.MethodGet, evaluatePath, nil, h)
	if get.StatusCode < 400 || get.StatusCode >= 500 {
		t.Fatalf("GET %s: status %d", evaluatePath, get.StatusCode)
	}
	evError(t, get, get.StatusCode)
	unknown := do(http.MethodPost, "/api/v1/nothing-here", nil, h)
	evError(t, unknown, http.StatusNotFound)
	big := do(http.MethodPost, evaluatePath, strings.NewReader(strings.Repeat(" ", 2<<20)),
		http.Header{"Authorization": {authz}, "Content-Type": {"application/json"}})
	evError(t, big, http.StatusRequestEntityTooLarge)
}
