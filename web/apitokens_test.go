package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"postern/internal/audit"
)

var tokenRE = regexp.MustCompile(`^pst_[a-z2-7]+$`)

func createToken(t *testing.T, c *client, name string) string {
	t.Helper()
	res := c.post("/settings/api-tokens", url.Values{"name": {name}})
	wantStatus(t, res, http.StatusOK)
	token := text(parse(t, res).Find(testID("new-token")))
	if !tokenRE.MatchString(token) {
		t.Fatalf("the new token is not shown (%q):\n%.800s", token, res.body)
	}
	return token
}

func TestAPITokensLifecycleAndMetrics(t *testing.T) {
	e := newAdminEnv(t)
	c := e.signedIn()
	wantStatus(t, c.post("/settings/api-tokens", url.Values{"name": {"  "}}), http.StatusUnprocessableEntity)
	token := createToken(t, c, "Gateway eu-west")

	list := c.get("/settings/api-tokens")
	if strings.Contains(list.body, token) {
		t.Fatal("the token is shown again after creation")
	}
	doc := parse(t, list)
	if names, shown := column(doc, "Name"), column(doc, "Token"); !slices.Equal(names, []string{"Gateway eu-west"}) ||
		len(shown) != 1 || !strings.HasPrefix(shown[0], token[:12]) {
		t.Fatalf("the list shows names %q and tokens %q, want the token's name and prefix", names, shown)
	}
	dup := c.post("/settings/api-tokens", url.Values{"name": {"Gateway eu-west"}})
	wantStatus(t, dup, http.StatusUnprocessableEntity)

	// The database keeps only a hash.
	raw, _ := e.store.APITokens(context.Background())
	if len(raw) != 1 || strings.Contains(string(raw[0].Hash), token) {
		t.Fatalf("stored tokens: %+v", raw)
	}

	anon := e.client()
	wantStatus(t, anon.get("/metrics"), http.StatusUnauthorized)
	// A signed-in admin's cookie is not a token.
	wantStatus(t, c.get("/metrics"), http.StatusUnauthorized)
	wantStatus(t, anon.do(http.MethodGet, "/metrics", nil, http.Header{"Authorization": {"Bearer pst_wrongwrongwrongwrong"}}), http.StatusUnauthorized)
	m := anon.do(http.MethodGet, "/metrics", nil, http.Header{"Authorization": {"Bearer " + token}})
	wantStatus(t, m, http.StatusOK)
	for _, want := range []string{"postern_sync_runs_total", "postern_devices{state=\"active\"}", "postern_http_requests_total{code=\"200\",method=\"GET\",route=\"/settings/api-tokens\"}", "postern_sync_last_success_timestamp_seconds", "postern_database_up 1", "postern_snapshot_loaded 1"} {
		if !strings.Contains(m.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	id := raw[0].ID
	wantRedirect(t, c.post("/settings/api-tokens/"+itoa(id)+"/revoke", url.Values{}), "/settings/api-tokens")
	wantStatus(t, anon.do(http.MethodGet, "/metrics", nil, http.Header{"Authorization": {"Bearer " + token}}), http.StatusUnauthorized)
	wantStatus(t, c.post("/settings/api-tokens/"+itoa(id)+"/revoke", url.Values{}), http.StatusNotFound)

	for _, action := range []string{"api_token.created", "api_token.revoked"} {
		a, done := action, audit.Success
		if entries := e.audited(audit.Filter{Action: &a, Outcome: &done}); len(entries) != 1 {
			t.Errorf("%s audited as done %d times", action, len(entries))
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
