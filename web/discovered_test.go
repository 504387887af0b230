package web

import (
	"encoding/csv"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"postern/internal/defender/vocab"
	"postern/views"
)

// countOf reads a count shown under data-testid id.
func countOf(t *testing.T, body, id string) int {
	t.Helper()
	s := strings.Fields(strings.ReplaceAll(text(dom(t, body).Find(testID(id))), ",", ""))
	if len(s) == 0 {
		t.Fatalf("no count %s in the page", id)
	}
	n, err := strconv.Atoi(s[len(s)-1])
	if err != nil {
		t.Fatalf("no count %s in the page (%q)", id, s)
	}
	return n
}

// The dashboard and the Devices page count discovered devices apart from
// the onboarded ones, and the Devices page lists the onboarded ones by
// default with the discovered ones one filter away.
func TestDiscoveredDevicesCountedApart(t *testing.T) {
	d, c := connected(t)
	snap := d.fleet.Load()
	discovered := 0
	for _, dev := range snap.Devices {
		if !dev.Removed && vocab.IsDiscovered(dev.OnboardingStatus) {
			discovered++
		}
	}
	if discovered == 0 || discovered != snap.Discovered {
		t.Fatalf("the emulator's fleet has %d discovered devices, the snapshot counts %d", discovered, snap.Discovered)
	}
	dash := c.get("/").body
	if got := countOf(t, dash, "dashboard-discovered"); got != discovered {
		t.Errorf("the dashboard counts %d discovered devices, want %d", got, discovered)
	}
	if got := countOf(t, dash, "dashboard-devices"); got != snap.Active-discovered {
		t.Errorf("the dashboard counts %d devices, want the %d onboarded ones", got, snap.Active-discovered)
	}
	card := text(dom(t, c.get("/settings/integrations").body).Find(testID("devices-synced-kinds")))
	if want := "(" + strconv.Itoa(snap.Active-discovered) + " onboarded, " + strconv.Itoa(discovered) + " discovered)"; strings.ReplaceAll(card, ",", "") != strings.ReplaceAll(want, ",", "") {
		t.Errorf("the integration card says %q of its synced devices, want %q", card, want)
	}
	// The impact preview's figures count every synced device, the
	// discovered ones too, and its sentence says so.
	prev := c.post("/zero-trust/posture-checks/preview", lowRiskForm()).body
	scope := text(dom(t, prev).Find(testID("impact-scope")))
	if want := "Of the " + views.Count(snap.Active) + " devices synced from Defender (" + views.Count(snap.Active-discovered) +
		" onboarded, " + views.Count(discovered) + " discovered), this check alone:"; scope != want {
		t.Errorf("the impact preview says %q, want %q", scope, want)
	}
	if got := impactOf(t, prev); got["allowed"]+got["denied"] != snap.Active {
		t.Errorf("the impact preview's figures %v do not add up to the %d devices it names", got, snap.Active)
	}
	// The export tells them apart too, in a column added at the end so
	// that readers by index keep theirs.
	rows, err := csv.NewReader(strings.NewReader(c.get("/devices.csv?kind=all").body)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("the export of every kind: %v", err)
	}
	wantHeader := []string{"host_name", "device_id", "health_status", "risk_score", "exposure_level", "onboarding_status",
		"antivirus_status", "os_platform", "os_version", "last_seen_utc", "tags", "removed_utc", "verdict", "kind"}
	if !slices.Equal(rows[0], wantHeader) {
		t.Fatalf("the export's header is %q, want %q", rows[0], wantHeader)
	}
	kinds := map[string]int{}
	for _, r := range rows[1:] {
		kind := r[len(r)-1]
		kinds[kind]++
		if d, ok := snap.ByID(r[1]); !ok || vocab.IsDiscovered(d.OnboardingStatus) != (kind == "Discovered") {
			t.Errorf("%s (onboarding %q) exported as %q", r[0], r[5], kind)
		}
	}
	if kinds["Discovered"] != discovered || kinds["Onboarded"] != snap.Active-discovered || len(kinds) != 2 {
		t.Errorf("the export's kinds %v, want %d Onboarded and %d Discovered", kinds, snap.Active-discovered, discovered)
	}
	list := c.get("/devices?per_page=200").body
	if got := countOf(t, list, "kind-discovered"); got != discovered {
		t.Errorf("the Devices page counts %d discovered, want %d", got, discovered)
	}
	if dom(t, list).Find(testID("discovered-badge")).Length() != 0 {
		t.Error("the default list shows a discovered device")
	}
	disc := c.get("/devices?kind=discovered&per_page=200")
	if n := rowCount(t, disc.body); n != min(discovered, 200) {
		t.Errorf("the Discovered filter lists %d devices, want %d", n, discovered)
	}
	if n := dom(t, disc.body).Find(testID("discovered-badge")).Length(); n != rowCount(t, disc.body) {
		t.Errorf("%d of the discovered rows carry the Discovered badge", n)
	}
}

// A check with Device group: the preview names observed and required
// groups, the editor explains the condition, and a save keeps the groups.
func TestDeviceGroupCheck(t *testing.T) {
	d, c := connected(t)
	editor := c.get("/zero-trust/posture-checks/new?source=defender&name=x").body
	for _, id := range []string{"device-group-note", "required-tags-note", "last-seen-note"} {
		if dom(t, editor).Find(testID(id)).Length() != 1 {
			t.Errorf("the editor lacks its %s", id)
		}
	}
	form := url.Values{"name": {"EU laptops"}, "source": {"defender"}, "device_groups": {"Laptops-EU, Finance"},
		"mode": {"enforce"}, "when_unavailable": {"deny"}, "enabled": {"on"}}
	prev := c.post("/zero-trust/posture-checks/preview", form)
	got := impactOf(t, prev.body)
	if got["allowed"] == 0 || got["denied"] == 0 {
		t.Fatalf("impact %v: want some devices in and some outside the groups", got)
	}
	if !strings.Contains(prev.body, "required one of Laptops-EU, Finance") {
		t.Errorf("the preview lacks a Device group reason:\n%.2000s", prev.body)
	}
	wantRedirect(t, saveCheck(t, c, "/zero-trust/posture-checks", confirmedAll(form)), "/zero-trust/posture-checks")
	checks, err := d.store.PostureChecks(t.Context())
	if err != nil || len(checks) != 1 {
		t.Fatalf("stored checks %d (%v)", len(checks), err)
	}
	edit := c.get("/zero-trust/posture-checks/" + strconv.FormatInt(checks[0].ID, 10) + "/edit").body
	if v := dom(t, edit).Find("#device_groups").AttrOr("value", ""); v != "Laptops-EU, Finance" {
		t.Errorf("the editor shows the groups %q", v)
	}
}
