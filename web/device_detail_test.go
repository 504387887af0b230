package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/syncer"
	"postern/internal/testkit"
)

func TestDeviceDetail(t *testing.T) {
	e := newAdminEnv(t)
	full := testMachine(1, "laptop-ana.corp.example.com")
	full.MachineTags = []string{"finance", "vpn-allowed"}
	full.IsPotentialDuplication = true
	full.MergedIntoMachineID = sp(fmt.Sprintf("%040x", 2))
	full.VMMetadata = &defender.VMMetadata{VMID: sp("vm-0042"), CloudProvider: sp("Azure"),
		ResourceID: sp("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"), SubscriptionID: sp("5e1f0000-0000-4000-8000-000000000001")}
	bare := defender.Machine{ID: fmt.Sprintf("%040x", 2), ComputerDNSName: "", OSPlatform: "Linux",
		HealthStatus: "Unknown", OnboardingStatus: "InsufficientInfo", MachineTags: []string{}}
	syncMachines(t, e.store, []defender.Machine{full, bare})
	c := e.signedIn()

	res := c.get(deviceURL(full.ID))
	wantStatus(t, res, http.StatusOK)
	for _, want := range []string{
		"Posture signals", "System", "Network", "Tags", "VM metadata", "Identity and duplicates", "Timeline", "Sync provenance",
		"Health status", "Entra joined", "6b1d2e3f-4a5b-4c6d-8e9f-000000000001", "Device value", "Normal",
		"Windows 11", "23H2", "22631", "64-bit", "x64", "10.8760.22631.4890", "Intune", "Laptops-EU", "412",
		"10.20.30.41", "203.0.113.17", "00-15-5D-0A-1B-2C", "127.0.0.1", "Software loopback", "Ethernet",
		"finance", "vpn-allowed", "vm-0042", "Azure", "5e1f0000-0000-4000-8000-000000000001",
		full.ID, "Potential duplicate",
		"1 Mar 2025, 09:30 UTC", "25 Nov 2026, 06:00 UTC", "about once a day",
		"First synced", "Last changed", "Missed runs", "Changed by sync run", "#1",
		"Microsoft Defender is not connected",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("detail page lacks %q", want)
		}
	}
	doc := parse(t, res)
	if title, h1 := text(doc.Find("title")), texts(doc.Find("h1")); title != "laptop-ana.corp.example.com · Postern" ||
		len(h1) != 1 || h1[0] != "laptop-ana.corp.example.com" {
		t.Errorf("detail page titled %q, headed %q", title, h1)
	}
	if doc.Find(`a[href="/devices/`+bare.ID+`"]`).Length() == 0 {
		t.Error("the duplicate does not link to the device it was merged into")
	}
	recheck := "/devices/" + full.ID + "/recheck"
	form := withAttr(doc.Find("form"), "action", recheck)
	if form.Length() != 1 || form.AttrOr("hx-post", "") != recheck || form.AttrOr("hx-disabled-elt", "") != "find button" ||
		form.Find(`input[name="_csrf"]`).Length() != 1 || text(form.Find(`button[type="submit"]`)) != "Re-check now" ||
		form.Find("button .htmx-spinner").Length() != 1 {
		t.Error("the detail page has no Re-check now form that posts with its token, over htmx too, and shows a spinner")
	}

	nulls := c.get(deviceURL(bare.ID))
	wantStatus(t, nulls, http.StatusOK)
	nd := parse(t, nulls)
	if h1 := texts(nd.Find("h1")); len(h1) != 1 || h1[0] != bare.ID {
		t.Error("a device without a host name is not titled by its id")
	}
	if n := withText(nd.Find("span"), "—").Length(); n < 15 {
		t.Errorf("nulls show %d em dashes, want one per missing field (≥ 15)", n)
	}
	for _, bad := range []string{"null", "<nil>", "VM metadata", "0001-01-01"} {
		if strings.Contains(nulls.body, bad) {
			t.Errorf("a device with null fields shows %q", bad)
		}
	}
	if !strings.Contains(nulls.body, "No tags.") || !strings.Contains(nulls.body, "no network interfaces") {
		t.Error("empty tags or addresses are not explained")
	}

	for _, path := range []string{"/devices/" + strings.Repeat("f", 40), "/devices/%25zz", "/devices/" + strings.Repeat("a", 300)} {
		res := c.get(path)
		wantStatus(t, res, http.StatusNotFound)
		if !strings.Contains(res.body, "Page not found") {
			t.Errorf("%s: the 404 is not the not-found page", path)
		}
	}
	wantStatus(t, c.post("/devices/"+strings.Repeat("f", 40)+"/recheck", url.Values{}), http.StatusNotFound)
}

func TestDeviceRecheckNotConnected(t *testing.T) {
	e := newAdminEnv(t)
	m := testMachine(7, "lonely")
	syncMachines(t, e.store, []defender.Machine{m})
	before, err := e.store.Device(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := e.signedIn()
	res := c.post(deviceURL(m.ID)+"/recheck", url.Values{})
	wantRedirect(t, res, deviceURL(m.ID))
	page := c.get(deviceURL(m.ID))
	if !strings.Contains(page.body, html.EscapeString(syncer.ErrNotConnected.Message)) {
		t.Fatalf("detail after re-check lacks the not-connected message:\n%.3000s", page.body)
	}
	if !strings.Contains(text(parse(t, page).Find(`[data-flash="warning"]`)), syncer.ErrNotConnected.Message) {
		t.Error("the not-connected message is not a warning flash")
	}
	after, _ := e.store.Device(context.Background(), m.ID)
	if string(after.ContentHash) != string(before.ContentHash) || !after.ChangedAt.Equal(before.ChangedAt) {
		t.Error("a failed re-check changed the device")
	}
	action := "device.rechecked"
	entries := e.auditedAs(action)
	if len(entries) != 1 || entries[0].Outcome != audit.Failure || entries[0].Target != m.ID {
		t.Errorf("audit of the failed re-check = %+v", entries)
	}

	// htmx: the whole page reloads to show the flash.
	hx := c.do(http.MethodPost, deviceURL(m.ID)+"/recheck", url.Values{}, http.Header{"Hx-Request": {"true"}})
	if hx.StatusCode != http.StatusNoContent || hx.Header.Get("Hx-Redirect") != deviceURL(m.ID) {
		t.Errorf("htmx re-check: status %d HX-Redirect %q", hx.StatusCode, hx.Header.Get("Hx-Redirect"))
	}
	// Cross-site posts without a token are refused.
	cs := e.client()
	cs.fetchSite = "cross-site"
	if res := cs.post(deviceURL(m.ID)+"/recheck", url.Values{}); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusSeeOther {
		t.Errorf("cross-site re-check: status %d", res.StatusCode)
	}
}

func TestRecheckOutcomeWords(t *testing.T) {
	cases := []struct {
		changed  bool
		err      error
		kind     string
		contains string
	}{
		{true, nil, "success", "Device re-checked: updated from Defender."},
		{false, nil, "success", "Device re-checked: no change."},
		{false, syncer.ErrNotConnected, "warning", "not connected"},
		{false, &defender.Error{Reason: defender.PermissionMissing, Code: "403 Forbidden", Message: "The app has no access.", Err: fmt.Errorf("secret-ish detail")}, "error", "The app has no access. (403 Forbidden)"},
		{false, fmt.Errorf("wrapped: %w", &defender.Error{Reason: defender.NotFound, Code: "404 ResourceNotFound", Message: "Gone."}), "error", "Gone. (404 ResourceNotFound)"},
		{false, fmt.Errorf("database is locked at /var/lib/postern"), "error", "Something went wrong"},
	}
	for _, tc := range cases {
		kind, text := recheckOutcome(tc.changed, tc.err)
		if kind != tc.kind || !strings.Contains(text, tc.contains) {
			t.Errorf("recheckOutcome(%v, %v) = %q, %q; want %q containing %q", tc.changed, tc.err, kind, text, tc.kind, tc.contains)
		}
		if strings.Contains(text, "secret-ish") || strings.Contains(text, "/var/lib") {
			t.Errorf("recheckOutcome leaks err.Error(): %q", text)
		}
	}
}

func TestDeviceRecheckFromDefender(t *testing.T) {
	d := newDefenderEnv(t, emulator.DemoClientSecret)
	c := d.signedIn()
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(emulator.DemoClientSecret)), "/settings/integrations")
	ctx := context.Background()
	testkit.WaitFor(t, 20*time.Second, "the first sync", func() bool {
		run, err := d.store.LastRun(ctx, "defender", model.RunSuccess)
		return err == nil && run.Seen > 0
	})
	var target emulator.Machine
	for _, m := range d.emu.Machines() {
		if (m.RiskScore == nil || *m.RiskScore != "High") && m.MergedIntoMachineID == nil {
			target = m
			break
		}
	}
	if target.ID == "" {
		t.Fatal("no machine to change")
	}
	page := c.get(deviceURL(target.ID))
	wantStatus(t, page, http.StatusOK)
	if strings.Contains(page.body, "Microsoft Defender is not connected") {
		t.Error("the detail page says Defender is not connected while it is")
	}

	d.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for i := range ms {
			if ms[i].ID == target.ID {
				ms[i].RiskScore = sp("High")
			}
		}
		return ms
	})
	wantRedirect(t, c.post(deviceURL(target.ID)+"/recheck", url.Values{}), deviceURL(target.ID))
	page = c.get(deviceURL(target.ID))
	if !strings.Contains(page.body, "Device re-checked: updated from Defender.") {
		t.Fatalf("no success flash after re-check: %s\nlogs: %s", flashText(page.body), d.logs.String())
	}
	risk := described(parse(t, page), "Risk score").Children()
	if risk.Length() == 0 || withText(risk, "High").Filter(".bg-red-50").Length() != risk.Length() {
		t.Error("the detail page does not show risk score High after the re-check")
	}
	stored, _ := d.store.Device(ctx, target.ID)
	if stored.RiskScore == nil || *stored.RiskScore != "High" {
		t.Errorf("stored risk = %v, want High", stored.RiskScore)
	}
	wantRedirect(t, c.post(deviceURL(target.ID)+"/recheck", url.Values{}), deviceURL(target.ID))
	if page := c.get(deviceURL(target.ID)); !strings.Contains(page.body, "Device re-checked: no change.") {
		t.Error("a second re-check does not say no change")
	}

	// Defender no longer has the machine: its words and code, nothing changes.
	d.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		out := ms[:0]
		for _, m := range ms {
			if m.ID != target.ID {
				out = append(out, m)
			}
		}
		return out
	})
	wantRedirect(t, c.post(deviceURL(target.ID)+"/recheck", url.Values{}), deviceURL(target.ID))
	page = c.get(deviceURL(target.ID))
	if !strings.Contains(page.body, "Re-check failed: Defender no longer lists this device") || !strings.Contains(page.body, "404") {
		t.Errorf("a re-check of a machine Defender dropped does not explain it:\n%.2000s", page.body)
	}
}

// Synced text is untrusted: markup and javascript: URLs render inert on the
// list and the detail page (docs/security.md#item-24).
func TestDevicesXSS(t *testing.T) {
	e := newAdminEnv(t)
	const script = `"><script>alert(1)</script>`
	const js = "javascript:alert(1)"
	a := testMachine(1, script)
	a.MachineTags = []string{script, js}
	a.RBACGroupName = sp(script)
	a.ExclusionReason = sp(script)
	a.OSVersion = sp(script)
	a.ManagedBy = sp(js)
	a.IPAddresses = append(a.IPAddresses, defender.IPAddress{IPAddress: js, MACAddress: sp(script), Type: sp(script), OperationalStatus: sp(js)})
	a.MergedIntoMachineID = sp(js)
	b := testMachine(2, js)
	b.MachineTags = []string{js}
	b.OSPlatform = script
	b.IPAddresses[0].Type = sp(js)
	b.RBACGroupName = sp(js)
	// An id that is not hex at all must still link and load safely.
	weird := testMachine(3, "weird-id")
	weird.ID = `x"><script>alert(1)</script>/../a b?c#d`
	syncMachines(t, e.store, []defender.Machine{a, b, weird})
	c := e.signedIn()

	pages := map[string]string{}
	for _, p := range []string{"/devices", "/devices?show=all", "/devices?tag=" + url.QueryEscape(script), "/devices?tag=" + url.QueryEscape(js),
		"/devices?q=" + url.QueryEscape(script), "/devices?q=" + url.QueryEscape(js), "/devices?platform=" + url.QueryEscape(script),
		deviceURL(a.ID), deviceURL(b.ID), deviceURL(weird.ID)} {
		res := c.get(p)
		wantStatus(t, res, http.StatusOK)
		pages[p] = res.body
	}
	if n := rowCount(t, pages["/devices?tag="+url.QueryEscape(script)]); n != 1 {
		t.Errorf("filtering by the hostile tag finds %d devices, want 1", n)
	}
	if n := rowCount(t, pages["/devices?platform="+url.QueryEscape(script)]); n != 1 {
		t.Errorf("filtering by the hostile platform finds %d devices, want 1", n)
	}
	for p, body := range pages {
		lower := strings.ToLower(body)
		for _, bad := range []string{"<script>alert", `href="javascript:`, `src="javascript:`, `action="javascript:`, `hx-post="javascript:`} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s contains %s", p, bad)
			}
		}
	}
	if !strings.Contains(pages["/devices"], "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the hostile host name is not shown escaped on the list")
	}
	if !strings.Contains(pages[deviceURL(a.ID)], "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the hostile text is not shown escaped on the detail page")
	}
	// The weird id's link leads to its page and its re-check form posts
	// back to it.
	wantLink := `href="` + deviceURL(weird.ID) + `"`
	if withAttr(dom(t, pages["/devices"]).Find(testID("device-row")+" a"), "href", deviceURL(weird.ID)).Length() != 1 {
		t.Errorf("the list does not link the odd id as %s", wantLink)
	}
	if h1 := texts(dom(t, pages[deviceURL(weird.ID)]).Find("h1")); len(h1) != 1 || h1[0] != "weird-id" {
		t.Error("the odd id's link does not lead to its page")
	}
	wantRedirect(t, c.post(deviceURL(weird.ID)+"/recheck", url.Values{}), deviceURL(weird.ID))
}

// flashText is the flash region of a page, for failure messages.
func flashText(body string) string {
	i := strings.Index(body, `id="flash-region"`)
	if i < 0 {
		return "(no flash region)"
	}
	return body[i:min(len(body), i+600)]
}
