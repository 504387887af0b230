package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// curlRE reads the token and the URL of a curl line the tokens page shows.
var curlRE = regexp.MustCompile(`^curl -sS -H 'Authorization: Bearer (pst_[a-z2-7]{52})' .*'(https?://[^']+)'$`)

// apiGet asks url with token, as a script would, and returns the status and
// body.
func apiGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// An Owner creates a token for Prometheus and a reporting script (Metrics
// and Read, not Evaluate) expiring in 90 days: the page refuses the form
// with no scope ticked, then shows the token once with a curl line per
// scope, whose URL and token work against the running server; the list
// shows the scopes and the expiry; the token cannot evaluate.
func TestTokenScopesJourney(t *testing.T) {
	srv, b := signedInAdmin(t)
	b.ClickLink("API tokens", mainNav)
	b.WaitHeading("API tokens")
	b.FillByLabel("Token name", "Prometheus and reports")
	untick := `(() => { const el = document.querySelector('input[name="scope"][value="evaluate"]'); if (el.checked) el.click(); return !el.checked; })()`
	Eval[bool](b, untick)
	b.ClickButton("Create token")
	b.WaitText("Choose at least one scope.")
	if focused := Eval[string](b, `document.activeElement.name || ""`); focused != "scope" {
		t.Errorf("after the refusal the focus is on %q, want the scope boxes", focused)
	}
	if v := Eval[string](b, `document.querySelector('#token-name').value`); v != "Prometheus and reports" {
		t.Errorf("the name was lost: %q", v)
	}
	Eval[bool](b, untick)
	for _, sc := range []string{"metrics", "read"} {
		Eval[bool](b, `(() => { const el = document.querySelector('input[name="scope"][value="`+sc+`"]'); if (!el.checked) el.click(); return el.checked; })()`)
	}
	b.FillByLabel("Expires", "90 days")
	created := time.Now().UTC()
	b.ClickButton("Create token")
	b.WaitText("Copy it now")
	token := Eval[string](b, `document.querySelector('[data-testid="new-token"]').innerText`)
	checkA11y(t, b, "/settings/api-tokens created")
	b.Screenshot("api-token-created")

	if Eval[bool](b, `!!document.querySelector('[data-testid="curl-evaluate"]')`) {
		t.Error("a curl line for evaluate, a scope the token lacks")
	}
	for _, sc := range []string{"metrics", "read"} {
		line := Eval[string](b, `document.querySelector('[data-testid="curl-`+sc+`"]').innerText`)
		m := curlRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || m[1] != token || !strings.HasPrefix(m[2], srv.URL+"/") {
			t.Fatalf("curl line for %s: %q (token %s, server %s)", sc, line, token, srv.URL)
		}
		status, body := apiGet(t, m[2], m[1])
		if status != http.StatusOK {
			t.Fatalf("the %s curl line's request: %d %s", sc, status, body)
		}
		if sc == "read" && !json.Valid([]byte(body)) || sc == "metrics" && !strings.Contains(body, "# TYPE") {
			t.Errorf("the %s curl line's answer: %.200s", sc, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/posture/evaluate", strings.NewReader(`{"device":{"hostname":"laptop-01"}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "evaluate scope") {
		t.Errorf("evaluate with a metrics and read token: %d %s", res.StatusCode, body)
	}

	b.ClickLink("API tokens", mainNav)
	b.WaitHeading("API tokens")
	b.WaitRow("Prometheus and reports")
	row := Eval[string](b, `[...document.querySelectorAll('tbody tr')].map(r => r.innerText).join('\n')`)
	expiry := created.AddDate(0, 0, 90).Format(time.DateOnly)
	if !strings.Contains(row, "Metrics, Read") || !strings.Contains(row, expiry) && !strings.Contains(row, time.Now().UTC().AddDate(0, 0, 90).Format(time.DateOnly)) || !strings.Contains(row, "Active") || strings.Contains(row, token) {
		t.Errorf("the list row: %q, want Metrics, Read expiring %s", row, expiry)
	}
	b.Screenshot("api-tokens-list")
}
