package web

import (
	"context"
	"encoding/base64"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/model"
)

// defenderEnv is a console wired to a Defender emulator over loopback.
type defenderEnv struct {
	*testEnv
	emu    *emulator.Emulator
	emuSrv *httptest.Server
}

func newDefenderEnv(t *testing.T, secretValue string) *defenderEnv {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientSecret: secretValue, Machines: 20, Seed: 1})
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	e := newEnvWith(t, hs.URL)
	e.setup()
	return &defenderEnv{testEnv: e, emu: emu, emuSrv: hs}
}

// waitSynced waits until a sync has finished and none is running.
// connected returns a signed-in client with Defender configured and synced.
func connected(t *testing.T) (*defenderEnv, *client) {
	t.Helper()
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	d := newDefenderEnv(t, sec)
	c := d.signedIn()
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(sec)), "/settings/integrations")
	d.waitSynced(t)
	return d, c
}

func (e *testEnv) waitSynced(t *testing.T) {
	t.Helper()
	e.waitRunAfter(t, 0)
}

// waitRunAfter waits until a run newer than id has finished, and returns it.
func (e *testEnv) waitRunAfter(t *testing.T, id int64) model.SyncRun {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st := e.worker.Status(); !st.Running && st.LastRun != nil && st.LastRun.ID > id {
			return *st.LastRun
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no sync after run %d finished: %+v", id, e.worker.Status())
	return model.SyncRun{}
}

func (d *defenderEnv) goodForm(secretValue string) url.Values {
	return url.Values{
		"tenant_id": {emulator.DemoTenantID}, "client_id": {emulator.DemoClientID},
		"client_secret": {secretValue}, "cloud": {"commercial"}, "region": {"global"},
	}
}

func (d *defenderEnv) integrationRow(t *testing.T) (model.Integration, bool) {
	t.Helper()
	in, err := d.store.Integration(context.Background(), "defender")
	if err != nil {
		return model.Integration{}, false
	}
	return in, true
}

func TestDefenderConfigureConnects(t *testing.T) {
	const sec = "Xy7~good.secret-value_0123456789abcdefABCD"
	d := newDefenderEnv(t, sec)
	c := d.signedIn()
	wantStatus(t, c.get("/settings/integrations/defender"), http.StatusOK)

	res := c.post("/settings/integrations/defender", d.goodForm(sec))
	wantRedirect(t, res, "/settings/integrations")
	d.waitSynced(t)
	page := c.get("/settings/integrations")
	for _, want := range []string{"Connected", "Microsoft Defender is connected", emulator.DemoTenantID} {
		if !strings.Contains(page.body, want) {
			t.Errorf("integrations page lacks %q", want)
		}
	}
	in, ok := d.integrationRow(t)
	if !ok || !in.Enabled {
		t.Fatalf("integration not stored enabled: %+v", in)
	}
	if !strings.HasPrefix(in.ClientSecret, "pst:v1:k1:") {
		t.Errorf("stored secret %q is not sealed", in.ClientSecret)
	}
	action := "integration.configured"
	entries := d.auditedAs(action)
	if len(entries) != 1 || entries[0].Actor != testEmail {
		t.Fatalf("integration.configured audit = %+v", entries)
	}

	// Re-open Manage: the secret field is empty and says a secret is set.
	manage := c.get("/settings/integrations/defender")
	if !strings.Contains(manage.body, "A secret is set") || strings.Contains(manage.body, sec) {
		t.Fatal("Manage does not say a secret is set, or shows it")
	}
	// Save with the secret blank keeps the secret.
	form := d.goodForm("")
	form.Set("secret_expires_on", "2099-01-31")
	wantRedirect(t, c.post("/settings/integrations/defender", form), "/settings/integrations")
	after, _ := d.integrationRow(t)
	if after.SecretExpiresOn == nil || after.SecretExpiresOn.Format("2006-01-02") != "2099-01-31" {
		t.Errorf("expiry not saved: %v", after.SecretExpiresOn)
	}
	// Still the same secret: the emulator accepts it on Enable.
	wantRedirect(t, c.post("/settings/integrations/defender/disable", url.Values{}), "/settings/integrations")
	if in, _ := d.integrationRow(t); in.Enabled {
		t.Fatal("Disable left the integration enabled")
	}
	if !strings.Contains(c.get("/settings/integrations").body, "Disabled") {
		t.Error("card does not say Disabled")
	}
	wantRedirect(t, c.post("/settings/integrations/defender/enable", url.Values{}), "/settings/integrations")
	if in, _ := d.integrationRow(t); !in.Enabled || in.LastError != "" {
		t.Fatalf("Enable did not reconnect: %+v", in)
	}
}

// Each way the credentials can be wrong gets its own message and code next
// to the right field, and stores nothing.
func TestDefenderBadCredentials(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	cases := []struct {
		name   string
		edit   func(url.Values)
		faults emulator.Faults
		down   bool
		field  string
		want   string
	}{
		{name: "unknown tenant", edit: func(f url.Values) { f.Set("tenant_id", "11111111-2222-3333-4444-555555555555") }, field: "tenant_id", want: "AADSTS90002"},
		{name: "malformed tenant", edit: func(f url.Values) { f.Set("tenant_id", "not a tenant") }, field: "tenant_id", want: "Use the Directory (tenant) ID"},
		{name: "unknown client", edit: func(f url.Values) { f.Set("client_id", "99999999-2222-3333-4444-555555555555") }, field: "client_id", want: "AADSTS700016"},
		{name: "wrong secret", edit: func(f url.Values) { f.Set("client_secret", "Wrong~secret.value-0123456789abcdefghijk") }, field: "client_secret", want: "AADSTS7000215"},
		{name: "secret id pasted", edit: func(f url.Values) { f.Set("client_secret", "0b7e6f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b") }, field: "client_secret", want: "secret&#39;s ID"},
		{name: "expired secret", faults: emulator.Faults{ExpiredSecret: true}, field: "client_secret", want: "AADSTS7000222"},
		{name: "missing consent", faults: emulator.Faults{NoConsent: true}, want: "Grant admin consent"},
		{name: "defender not provisioned", faults: emulator.Faults{DefenderNotProvisioned: true}, want: "AADSTS500011"},
		{name: "emulator down", down: true, want: "Could not reach Microsoft"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDefenderEnv(t, sec)
			d.emu.SetFaults(tc.faults)
			if tc.down {
				d.emuSrv.Close() // connections are now refused
			}
			c := d.signedIn()
			form := d.goodForm(sec)
			if tc.edit != nil {
				tc.edit(form)
			}
			res := c.post("/settings/integrations/defender", form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			if !strings.Contains(res.body, tc.want) {
				t.Fatalf("body lacks %q:\n%.2000s", tc.want, res.body)
			}
			if tc.field != "" {
				doc := parse(t, res)
				msg := doc.Find("#" + tc.field + "-error")
				input := doc.Find(`[name="` + tc.field + `"]`)
				if !strings.Contains(text(msg), html.UnescapeString(tc.want)) || input.AttrOr("aria-invalid", "") != "true" ||
					!slices.Contains(strings.Fields(input.AttrOr("aria-describedby", "")), tc.field+"-error") {
					t.Errorf("the message is not next to %s, or the field does not point to it", tc.field)
				}
			}
			if strings.Contains(res.body, sec) {
				t.Error("the form echoed the secret back")
			}
			if _, ok := d.integrationRow(t); ok {
				t.Error("a failed validation stored the integration")
			}
		})
	}
}

// A failed validation leaves a working configuration byte-for-byte as it was.
func TestDefenderFailedSaveKeepsWorkingConfig(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	d := newDefenderEnv(t, sec)
	c := d.signedIn()
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(sec)), "/settings/integrations")
	before, _ := d.integrationRow(t)
	bad := d.goodForm("Wrong~secret.value-0123456789abcdefghijk")
	wantStatus(t, c.post("/settings/integrations/defender", bad), http.StatusUnprocessableEntity)
	after, _ := d.integrationRow(t)
	if before.ClientSecret != after.ClientSecret || before.UpdatedAt != after.UpdatedAt || before.TenantID != after.TenantID {
		t.Fatalf("a failed save changed the stored row:\nbefore %+v\nafter  %+v", before, after)
	}
}

// The sentinel secret appears in no response, log line, audit row or the
// database files.
func TestDefenderSecretNeverLeaks(t *testing.T) {
	sentinel := "Sentinel~" + strings.ReplaceAll(t.Name(), "/", "") + ".9f8e7d6c5b4a"
	d := newDefenderEnv(t, sentinel)
	c := d.signedIn()
	var bodies []string
	collect := func(r response) { bodies = append(bodies, r.body, strings.Join(headerLines(r.Header), "\n")) }

	collect(c.post("/settings/integrations/defender", d.goodForm(sentinel)))
	bad := d.goodForm(sentinel + "x")
	collect(c.post("/settings/integrations/defender", bad))
	collect(c.do(http.MethodPost, "/settings/integrations/defender", bad, http.Header{"Hx-Request": {"true"}}))
	for _, p := range []string{"/", "/settings/integrations", "/settings/integrations/defender", "/audit", "/audit.csv", "/settings/integrations/defender/disable"} {
		collect(c.get(p))
	}
	collect(c.post("/settings/integrations/defender/disable", url.Values{}))
	collect(c.post("/settings/integrations/defender/enable", url.Values{}))

	forms := []string{sentinel, base64.StdEncoding.EncodeToString([]byte(sentinel)), base64.RawURLEncoding.EncodeToString([]byte(sentinel)), url.QueryEscape(sentinel)}
	check := func(where, text string) {
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("the secret (%q form) appears in %s", f[:8], where)
			}
		}
	}
	for i, b := range bodies {
		check("response "+string(rune('A'+i)), b)
	}
	check("the log", d.logs.String())
	entries := d.audited(audit.Filter{})
	for _, e := range entries {
		check("audit entry "+e.Action, e.Actor+e.Target+e.Detail)
	}
	for _, suffix := range []string{"", "-wal"} {
		raw, err := os.ReadFile(d.store.Path() + suffix)
		if err != nil && suffix == "" {
			t.Fatal(err)
		}
		check("database file"+suffix, string(raw))
	}
	if len(entries) < 3 {
		t.Fatalf("expected configure/disable/enable in the audit log, got %d entries", len(entries))
	}
}

func headerLines(h http.Header) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// htmx gets the form back in place on failure, and the card and a flash out
// of band on success.
func TestDefenderManageOverHTMX(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	d := newDefenderEnv(t, sec)
	c := d.signedIn()
	hx := http.Header{"Hx-Request": {"true"}}
	dlg := c.do(http.MethodGet, "/settings/integrations/defender", nil, hx)
	// A fragment has no <html> of its own (the parser would add one: a
	// byte check).
	if parse(t, dlg).Find("body > dialog").Length() != 1 || strings.Contains(dlg.body, "<html") {
		t.Fatal("Manage over htmx is not a bare dialog")
	}
	bad := d.goodForm("Wrong~secret.value-0123456789abcdefghijk")
	res := c.do(http.MethodPost, "/settings/integrations/defender", bad, hx)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if top := parse(t, res).Find("body").Children(); top.Length() != 1 || !top.Is("form#manage-form") {
		t.Fatalf("failed save over htmx is not the form alone: %.200s", res.body)
	}
	ok := c.do(http.MethodPost, "/settings/integrations/defender", d.goodForm(sec), hx)
	wantStatus(t, ok, http.StatusOK)
	card := parse(t, ok).Find(`#defender-card[hx-swap-oob="true"]`)
	if ok.Header.Get("Hx-Retarget") != "#dialog-root" || card.Length() != 1 ||
		!(strings.Contains(text(card), "Connected") || strings.Contains(text(card), "Syncing…")) {
		t.Fatalf("successful save over htmx: headers %v body %.300s", ok.Header, ok.body)
	}
}

func TestSecretNotice(t *testing.T) {
	now := mustDate("2026-11-25")
	cases := []struct {
		expires, kind, want string
	}{
		{"2027-06-30", "", ""},
		{"2026-12-20", "warning", "expires in 25 days"},
		{"2026-11-25", "warning", "expires today"},
		{"2026-11-26", "warning", "expires tomorrow"},
		{"2026-12-26", "", ""},
		{"2026-11-24", "error", "expired on 24 Nov 2026"},
	}
	for _, tc := range cases {
		msg, kind := secretNotice(mustDate(tc.expires), now)
		if kind != tc.kind || !strings.Contains(msg, tc.want) {
			t.Errorf("secretNotice(%s) = %q, %q; want kind %q containing %q", tc.expires, msg, kind, tc.kind, tc.want)
		}
	}
}

func mustDate(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSyncNowAndLiveCard(t *testing.T) {
	d, c := connected(t)

	card := c.get("/settings/integrations/defender/status")
	wantStatus(t, card, http.StatusOK)
	for _, want := range []string{"Devices synced", "Last successful sync"} {
		if !strings.Contains(card.body, want) {
			t.Errorf("card fragment lacks %q", want)
		}
	}
	status := parse(t, card).Find("#defender-status")
	if status.AttrOr("hx-trigger", "") != "every 15s" || status.AttrOr("hx-get", "") != "/settings/integrations/defender/status" {
		t.Error("the status fragment does not refresh itself every 15 s")
	}
	if got := devicesSynced(t, card.body); got != "20" {
		t.Errorf("the card counts %q devices synced, want 20", got)
	}
	if strings.Contains(card.body, "<html") {
		t.Error("the status fragment is a whole page")
	}
	if strings.Contains(card.body, "Disable") {
		t.Error("the self-refreshing part carries the card's buttons")
	}

	if one := c.get("/sync-runs"); text(parse(t, one).Find(testID("range"))) != "Showing 1–1 of 1 run" {
		t.Errorf("sync runs page does not count 1 run:\n%.1500s", one.body)
	}

	first := d.worker.Status().LastRun.ID
	d.emu.SetFaults(emulator.Faults{SlowPage: 300 * time.Millisecond})
	res := c.do(http.MethodPost, "/settings/integrations/defender/sync", url.Values{}, http.Header{"Hx-Request": {"true"}})
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(res.body, "Syncing…") || parse(t, res).Find(`#defender-status[hx-trigger="every 2s"]`).Length() != 1 {
		t.Fatalf("Sync now did not answer with a syncing card: %.400s", res.body)
	}
	d.waitRunAfter(t, first)
	runs := c.get("/sync-runs")
	wantStatus(t, runs, http.StatusOK)
	rd := parse(t, runs)
	if outcomes := column(rd, "Outcome"); !slices.Equal(outcomes, []string{"Success", "Success"}) {
		t.Fatalf("sync runs page lists outcomes %q, want 2 successful runs:\n%.1500s", outcomes, runs.body)
	}
	if ids := column(rd, "Run"); len(ids) != 2 || !strings.HasSuffix(ids[0], " manual") || !strings.HasSuffix(ids[1], " configured") {
		t.Errorf("sync runs page names the runs %q, want the manual one above the configured one", ids)
	}
	if got := text(rd.Find(testID("range"))); got != "Showing 1–2 of 2 runs" {
		t.Errorf("sync runs page counts %q, want 2 runs", got)
	}

	// Disabled: nothing to sync.
	wantRedirect(t, c.post("/settings/integrations/defender/disable", url.Values{}), "/settings/integrations")
	wantStatus(t, c.do(http.MethodPost, "/settings/integrations/defender/sync", url.Values{}, http.Header{"Hx-Request": {"true"}}), http.StatusConflict)
	// Without JavaScript the refusal returns to the card with a flash, not
	// a bare error page.
	wantRedirect(t, c.post("/settings/integrations/defender/sync", url.Values{}), "/settings/integrations")
	page := c.get("/settings/integrations")
	if got := text(parse(t, page).Find("#flash-region")); !strings.Contains(got, "nothing to sync") {
		t.Errorf("after a refused Sync now the card's flash says %q", got)
	}
	if strings.Contains(page.body, ">Sync now<") {
		t.Error("the disabled card still offers Sync now")
	}
}

// After a 403 the sync stays paused until the credentials are saved again;
// Sync now says so instead of pretending to start.
func TestSyncNowWhileBlockedSaysWhy(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	d := newDefenderEnv(t, sec)
	c := d.signedIn()
	d.emu.SetFaults(emulator.Faults{TokenLifetime: time.Second})
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(sec)), "/settings/integrations")
	d.waitSynced(t)
	first := d.worker.Status().LastRun.ID
	d.emu.SetFaults(emulator.Faults{TokenLifetime: time.Second, NoConsent: true})
	time.Sleep(1100 * time.Millisecond) // the cached token, with its roles, expires
	c.post("/settings/integrations/defender/sync", url.Values{})
	if run := d.waitRunAfter(t, first); run.Outcome != "failed" || !strings.HasPrefix(run.ErrorCode, "403") {
		t.Fatalf("run without consent: %+v", run)
	}
	res := c.do(http.MethodPost, "/settings/integrations/defender/sync", url.Values{}, http.Header{"Hx-Request": {"true"}})
	wantStatus(t, res, http.StatusConflict)
	if !strings.Contains(res.body, "Syncing is paused") || !strings.Contains(res.body, "Grant admin consent") {
		t.Errorf("Sync now while blocked answered %q", res.body)
	}
	// The paused card neither offers Sync now nor promises a next sync.
	card := c.get("/settings/integrations/defender/card").body
	if strings.Contains(card, ">Sync now<") || strings.Contains(card, "Next sync") {
		t.Errorf("the card paused by a 403 offers Sync now or a next sync:\n%.2000s", card)
	}
}

// A failed sync shows on the card in plain words, with the code.
func TestFailedSyncShowsOnCard(t *testing.T) {
	d, c := connected(t)
	first := d.worker.Status().LastRun.ID
	d.emu.SetFaults(emulator.Faults{MalformedJSON: true})
	c.post("/settings/integrations/defender/sync", url.Values{})
	if run := d.waitRunAfter(t, first); run.Outcome != "failed" {
		t.Fatalf("run with malformed JSON: %+v", run)
	}
	card := c.get("/settings/integrations/defender/card").body
	for _, want := range []string{"The last sync failed", "invalid JSON", "Error"} {
		if !strings.Contains(card, want) {
			t.Errorf("card after a failed sync lacks %q", want)
		}
	}
	if got := devicesSynced(t, card); got != "20" {
		t.Errorf("after a failed sync the card counts %q devices synced, want the 20 of the last success", got)
	}
}

// devicesSynced is the count of devices synced a card shows, without what
// a running sync has fetched.
func devicesSynced(t *testing.T, body string) string {
	words := strings.Fields(text(dom(t, body).Find(testID("devices-synced"))))
	if len(words) == 0 {
		return ""
	}
	return words[0]
}
