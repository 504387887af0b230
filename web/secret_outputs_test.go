package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/model"
)

// TestSecretAbsentFromEveryOutput extends TestDefenderSecretNeverLeaks to
// the outputs security item 7 names beyond the integration pages
// (docs/security.md#item-7): /metrics, the JSON enforcement API's answers
// (success and errors), the sync runs page after a good and a failed run,
// the dashboard, and the device list and detail pages, re-check included.
// A unique sentinel secret is grepped in every body and header, in plain,
// base64 and URL-encoded form, and in the log and the audit rows.
func TestSecretAbsentFromEveryOutput(t *testing.T) {
	sentinel := "Sentinel~" + strings.ReplaceAll(t.Name(), "/", "") + ".1a2b3c4d5e6f"
	d := newDefenderEnv(t, sentinel)
	c := d.signedIn()
	var outputs []string
	collect := func(where string, r response) {
		t.Helper()
		if r.StatusCode >= 500 {
			t.Errorf("%s: status %d", where, r.StatusCode)
		}
		outputs = append(outputs, where+"\n"+r.body+"\n"+strings.Join(headerLines(r.Header), "\n"))
	}

	d.emu.SetFaults(emulator.Faults{TokenLifetime: time.Second})
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(sentinel)), "/settings/integrations")
	d.waitSynced(t)
	snap := d.fleet.Load()
	if snap == nil || snap.Len() == 0 {
		t.Fatal("the first sync loaded no devices")
	}
	dev := snap.Devices[0]

	token := createToken(t, c, "Sentinel gateway")
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	anon := d.client()
	collect("/metrics", anon.do(http.MethodGet, "/metrics", nil, bearer))
	bodies := map[string]string{
		"by id":        `{"device":{"defender_machine_id":` + jsonQuoted(dev.ID) + `}}`,
		"by host":      `{"device":{"hostname":` + jsonQuoted(dev.Host) + `,"os":"Windows","firewall":true}}`,
		"unknown":      `{"device":{"hostname":"no-such-host.example"}}`,
		"no id":        `{"device":{"os":"Windows"}}`,
		"malformed":    `{"device":`,
		"secret input": `{"device":{"hostname":` + jsonQuoted(sentinel) + `}}`,
	}
	for name, b := range bodies {
		res := evPost(t, d.testEnv, "Bearer "+token, strings.NewReader(b))
		if name == "secret input" {
			// The caller sent the sentinel itself; an echo of the input is
			// not a leak of the stored secret, so only headers are checked.
			res.body = ""
		}
		collect("evaluate "+name, res)
	}
	collect("evaluate without a token", evPost(t, d.testEnv, "", strings.NewReader(bodies["by id"])))
	collect("evaluate too large", evPost(t, d.testEnv, "Bearer "+token, bytes.NewReader(make([]byte, 70<<10))))

	// A failed run (secret expired) and a blocked one (403) put their errors
	// on the sync runs page, the card and the dashboard.
	for _, f := range []emulator.Faults{{ExpiredSecret: true}, {NoConsent: true}} {
		last := d.worker.Status().LastRun.ID
		f.TokenLifetime = time.Second
		d.emu.SetFaults(f)
		time.Sleep(1100 * time.Millisecond) // the cached token expires
		collect("sync now", c.post("/settings/integrations/defender/sync", url.Values{}))
		if run := d.waitRunAfter(t, last); run.Outcome != model.RunFailed {
			t.Fatalf("run under %+v: outcome %q, want failed", f, run.Outcome)
		}
		collect("/sync-runs after a failure", c.get("/sync-runs"))
		collect("/ after a failure", c.get("/"))
		collect("/settings/integrations/defender/card", c.get("/settings/integrations/defender/card"))
	}
	d.emu.SetFaults(emulator.Faults{})
	collect("recheck", c.post(deviceURL(dev.ID)+"/recheck", url.Values{}))
	for _, p := range []string{"/devices", "/devices?q=" + url.QueryEscape(dev.Host), deviceURL(dev.ID), deviceURL(snap.Devices[snap.Len()-1].ID), "/sync-runs"} {
		collect(p, c.get(p))
	}

	forms := []string{sentinel, base64.StdEncoding.EncodeToString([]byte(sentinel)),
		base64.RawURLEncoding.EncodeToString([]byte(sentinel)), url.QueryEscape(sentinel)}
	check := func(where, text string) {
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("the secret (%q… form) appears in %s", f[:8], where)
			}
		}
	}
	for _, o := range outputs {
		where, _, _ := strings.Cut(o, "\n")
		check(where, o)
	}
	check("the log", d.logs.String())
	entries := d.audited(audit.Filter{})
	for _, e := range entries {
		check("audit entry "+e.Action, e.Actor+e.Target+e.Detail)
	}
	runs := c.get("/sync-runs").body
	for _, code := range []string{"AADSTS7000222", "403"} {
		if !strings.Contains(runs, code) {
			t.Errorf("the sync runs page does not show the failed run's code %s: the failure paths went unexercised", code)
		}
	}
	if !strings.Contains(outputs[0], "postern_") {
		t.Errorf("/metrics answered no metrics:\n%.500s", outputs[0])
	}
}

func jsonQuoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
