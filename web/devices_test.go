package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/model"
	"postern/internal/syncer"
	"postern/store"
)

func sp(s string) *string { return &s }

// testMachine is a healthy, onboarded Windows 11 laptop; tests change what
// they look at.
func testMachine(n int, host string) defender.Machine {
	seen := defender.Time{Time: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)}
	first := defender.Time{Time: time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)}
	build := defender.Int64(22631)
	group := defender.Int64(412)
	return defender.Machine{
		ID: fmt.Sprintf("%040x", n), ComputerDNSName: host, FirstSeen: &first, LastSeen: &seen,
		OSPlatform: "Windows11", OSProcessor: sp("x64"), Version: sp("23H2"), OSBuild: &build,
		LastIPAddress: sp("10.20.30.41"), LastExternalIPAddress: sp("203.0.113.17"), AgentVersion: sp("10.8760.22631.4890"),
		HealthStatus: "Active", DeviceValue: sp("Normal"), RBACGroupID: &group, RBACGroupName: sp("Laptops-EU"),
		RiskScore: sp("Low"), ExposureLevel: sp("Medium"), IsAADJoined: true,
		AADDeviceID: sp(fmt.Sprintf("6b1d2e3f-4a5b-4c6d-8e9f-%012x", n)), MachineTags: []string{},
		DefenderAVStatus: sp("Updated"), OnboardingStatus: "Onboarded", OSArchitecture: sp("64-bit"),
		ManagedBy: sp("Intune"), ManagedByStatus: sp("Success"),
		IPAddresses: []defender.IPAddress{
			{IPAddress: "10.20.30.41", MACAddress: sp("00155D0A1B2C"), Type: sp("Ethernet"), OperationalStatus: sp("Up")},
			{IPAddress: "127.0.0.1", Type: sp("SoftwareLoopback"), OperationalStatus: sp("Up")},
		},
	}
}

// storedDevice maps a machine as the sync does.
func storedDevice(t testing.TB, m defender.Machine) model.Device {
	t.Helper()
	return syncer.ToDevice(m)
}

// syncMachines records one successful sync run that saw exactly ms.
func syncMachines(t testing.TB, st *store.Store, ms []defender.Machine) {
	t.Helper()
	syncRun(t, st, len(ms), max(len(ms), 1), func(i int) defender.Machine { return ms[i] })
}

// syncRun records one successful sync run that saw n machines, staged in
// pages of pageSize; machine(i) is the i-th, asked for in order.
func syncRun(t testing.TB, st *store.Store, n, pageSize int, machine func(i int) defender.Machine) {
	t.Helper()
	ctx := context.Background()
	run, err := st.StartRun(ctx, "defender", "manual")
	if err != nil {
		t.Fatal(err)
	}
	for from := 0; from < n; from += pageSize {
		page := make([]model.Device, 0, min(pageSize, n-from))
		for i := from; i < min(from+pageSize, n); i++ {
			page = append(page, storedDevice(t, machine(i)))
		}
		if err := st.StageDevices(ctx, run.ID, page); err != nil {
			t.Fatal(err)
		}
	}
	run.Outcome, run.Seen = model.RunSuccess, n
	if _, err := st.FinishRun(ctx, run, audit.Entry{Actor: "system", Action: "sync.finished", Target: "defender", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
}

func rowCount(t testing.TB, body string) int { return dom(t, body).Find(testID("device-row")).Length() }

// hosts lists the host names of the rows in order: the text of each row's
// link to its device.
func hosts(t testing.TB, body string) []string {
	return texts(dom(t, body).Find(testID("device-row") + ` td:first-child a[href^="/devices/"]`))
}

// signedInOverFleet is a client signed in to a console holding
// fleetFixture's devices.
func signedInOverFleet(t *testing.T) *client {
	t.Helper()
	e := newAdminEnv(t)
	fleetFixture(t, e.store)
	return e.signedIn()
}

// fleetFixture is twelve devices with known signals, one of them removed.
func fleetFixture(t *testing.T, st *store.Store) {
	t.Helper()
	var ms []defender.Machine
	add := func(host string, edit func(*defender.Machine)) {
		m := testMachine(len(ms)+1, host)
		if edit != nil {
			edit(&m)
		}
		ms = append(ms, m)
	}
	add("alpha-laptop", func(m *defender.Machine) { m.MachineTags = []string{"finance", "vpn-allowed"} })
	add("alpha-desktop", func(m *defender.Machine) { m.RiskScore = sp("High"); m.MachineTags = []string{"finance"} })
	add("bravo-server", func(m *defender.Machine) {
		m.OSPlatform, m.RiskScore, m.ExposureLevel = "WindowsServer2022", sp("Medium"), sp("High")
	})
	add("charlie-mac", func(m *defender.Machine) { m.OSPlatform, m.OSBuild, m.OSVersion = "macOS", nil, sp("14.6") })
	add("delta-linux", func(m *defender.Machine) { m.OSPlatform, m.RiskScore = "Linux", nil })
	add("echo-kiosk", func(m *defender.Machine) { m.HealthStatus, m.MachineTags = "Inactive", []string{"kiosk"} })
	add("foxtrot", func(m *defender.Machine) { m.HealthStatus, m.RiskScore = "NoSensorData", sp("High") })
	add("golf", func(m *defender.Machine) { m.OnboardingStatus = "CanBeOnboarded"; m.ExposureLevel = sp("Low") })
	add("hotel", func(m *defender.Machine) { m.RiskScore = sp("Informational") })
	add("india", func(m *defender.Machine) { m.RiskScore = sp("None"); m.DefenderAVStatus = sp("NotUpdated") })
	add("juliet", func(m *defender.Machine) { m.RiskScore = sp("High"); m.HealthStatus = "Active" })
	add("kilo-gone", nil)
	syncMachines(t, st, ms)
	// kilo-gone misses two consecutive syncs: removed.
	syncMachines(t, st, ms[:len(ms)-1])
	syncMachines(t, st, ms[:len(ms)-1])
}

func TestDevicesEmptyState(t *testing.T) {
	e := newAdminEnv(t)
	res := e.signedIn().get("/devices")
	wantStatus(t, res, http.StatusOK)
	doc := parse(t, res)
	if h := texts(doc.Find("h1")); len(h) != 1 || h[0] != "Devices" {
		t.Errorf("empty devices page has headings %q, want one h1 Devices", h)
	}
	for _, want := range []string{"No devices synced yet", "Connect Microsoft Defender"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("empty devices page lacks %q", want)
		}
	}
	if doc.Find(`[name="health"]`).Length() != 0 {
		t.Error("the filters show although no device exists")
	}
}

func TestDevicesListAndFilters(t *testing.T) {
	c := signedInOverFleet(t)

	// By default the list holds the protected devices; golf, found by
	// device discovery, is one filter away.
	def := c.get("/devices")
	if got := hosts(t, def.body); len(got) != 10 || slices.Contains(got, "golf") {
		t.Errorf("the default list shows %q, want the 10 onboarded devices without golf", got)
	}
	if got := hosts(t, c.get("/devices?kind=discovered").body); !slices.Equal(got, []string{"golf"}) {
		t.Errorf("the Discovered filter shows %q, want golf", got)
	}
	all := c.get("/devices?kind=all")
	wantStatus(t, all, http.StatusOK)
	if n := rowCount(t, all.body); n != 11 {
		t.Fatalf("list shows %d devices, want the 11 active ones", n)
	}
	for _, want := range []string{"Showing 1–11 of 11 devices", "alpha-laptop", "Windows 11", "build 22631",
		"Search", "Health status", "Risk score", "Exposure level", "Onboarding", "OS platform", "Tag", "Inventory",
		"AV status", "Last seen"} {
		if !strings.Contains(all.body, want) {
			t.Errorf("device list lacks %q", want)
		}
	}
	doc := parse(t, all)
	if withText(doc.Find(`form button[type="submit"]`), "Filter").Length() != 1 {
		t.Error("the filters have no Filter button")
	}
	if doc.Find(testID("device-row")+` time[datetime="2026-11-25T06:00:00Z"]`).Length() == 0 {
		t.Error("no row shows its last-seen time as a machine-readable <time>")
	}
	if th := texts(doc.Find(`th[aria-sort="ascending"]`)); len(th) != 1 || th[0] != "Host name" {
		t.Errorf("columns sorted ascending: %q, want Host name alone", th)
	}
	if tag := withAttr(doc.Find(testID("device-row")+" a"), "href", "/devices?tag=vpn-allowed"); text(tag) != "vpn-allowed" {
		t.Error("a tag does not link to the devices with that tag")
	}
	if strings.Contains(all.body, "kilo-gone") {
		t.Error("a removed device is listed among the active ones")
	}

	cases := []struct {
		query string
		want  int
		hosts []string // some hosts that must be listed
	}{
		{"health=Inactive", 1, []string{"echo-kiosk"}},
		{"health=NoSensorData", 1, []string{"foxtrot"}},
		{"risk=High", 3, []string{"alpha-desktop", "foxtrot", "juliet"}},
		{"risk=High&health=Active", 2, []string{"alpha-desktop", "juliet"}},
		{"risk=unscored", 1, []string{"delta-linux"}},
		{"risk=None", 1, []string{"india"}},
		{"exposure=High", 1, []string{"bravo-server"}},
		{"exposure=Low", 0, nil}, // golf is discovered: one filter away
		{"exposure=Low&kind=all", 1, []string{"golf"}},
		{"exposure=Low&kind=discovered", 1, []string{"golf"}},
		{"onboarding=CanBeOnboarded", 1, []string{"golf"}},
		{"platform=Linux", 1, []string{"delta-linux"}},
		{"platform=WindowsServer2022", 1, []string{"bravo-server"}},
		{"tag=finance", 2, []string{"alpha-laptop", "alpha-desktop"}},
		{"tag=kiosk&health=Inactive", 1, []string{"echo-kiosk"}},
		{"show=removed", 1, []string{"kilo-gone"}},
		{"show=all", 11, []string{"kilo-gone", "alpha-laptop"}},
		{"show=all&kind=all", 12, []string{"kilo-gone", "golf"}},
		{"q=alpha", 2, []string{"alpha-laptop", "alpha-desktop"}},
		{"q=ALPHA-L", 1, []string{"alpha-laptop"}},
		{"q=" + fmt.Sprintf("%040x", 3), 1, []string{"bravo-server"}},
		{"q=" + strings.ToUpper(fmt.Sprintf("6b1d2e3f-4a5b-4c6d-8e9f-%012x", 4)), 1, []string{"charlie-mac"}},
		{"q=" + fmt.Sprintf("%039x", 3), 0, nil}, // ids match in full only
		// Unknown values are ignored, not passed on.
		{"health=Bogus&risk=Severe&exposure=%27%3B--&onboarding=x&platform=DROP+TABLE&tag=nope&show=everything&kind=x&sort=raw&dir=sideways", 10, nil},
	}
	for _, tc := range cases {
		res := c.get("/devices?" + tc.query)
		wantStatus(t, res, http.StatusOK)
		if n := rowCount(t, res.body); n != tc.want {
			t.Errorf("%s: %d rows, want %d (hosts %v)", tc.query, n, tc.want, hosts(t, res.body))
			continue
		}
		got := hosts(t, res.body)
		for _, h := range tc.hosts {
			if !slices.Contains(got, h) {
				t.Errorf("%s: rows %v lack %s", tc.query, got, h)
			}
		}
		if tc.want > 0 && !strings.Contains(text(parse(t, res).Find(testID("range"))), fmt.Sprintf("of %d device", tc.want)) {
			t.Errorf("%s: the counts line does not say %d", tc.query, tc.want)
		}
	}

	// Chosen filters stay selected; Clear filters appears.
	sel := c.get("/devices?risk=High&health=Active&q=juli")
	sd := parse(t, sel)
	for name, want := range map[string]string{"risk": "High", "health": "Active"} {
		opt := sd.Find(`select[name="` + name + `"] option[selected]`)
		if opt.Length() != 1 || opt.AttrOr("value", "") != want {
			t.Errorf("the %s filter has %q selected, want %s", name, texts(opt), want)
		}
	}
	if q := sd.Find(`input[name="q"]`).AttrOr("value", ""); q != "juli" {
		t.Errorf("the search box holds %q, want juli", q)
	}
	if !strings.Contains(sel.body, "Clear filters") {
		t.Error("filtered page lacks Clear filters")
	}

	none := c.get("/devices?q=zzz")
	for _, want := range []string{"No device matches these filters", "Clear filters"} {
		if !strings.Contains(none.body, want) {
			t.Errorf("no-match page lacks %q", want)
		}
	}
	if strings.Contains(none.body, "No devices synced yet") {
		t.Error("no-match page says no device exists")
	}
	removed := c.get("/devices?show=removed")
	if badge := withText(parse(t, removed).Find(testID("device-row")+" td:first-child span"), "Removed"); badge.Length() != 1 {
		t.Error("a removed device has no Removed badge")
	}
}

func TestDevicesSort(t *testing.T) {
	c := signedInOverFleet(t)

	res := c.get("/devices?sort=risk&kind=all")
	got := hosts(t, res.body)
	if len(got) != 11 {
		t.Fatalf("sorted list has %d rows", len(got))
	}
	for i, h := range got[:3] {
		if !slices.Contains([]string{"alpha-desktop", "foxtrot", "juliet"}, h) {
			t.Fatalf("sort=risk (desc by default): row %d is %s; order %v", i, h, got)
		}
	}
	if got[3] != "bravo-server" { // the one Medium
		t.Errorf("after the High ones comes %s, want bravo-server; order %v", got[3], got)
	}
	if got[len(got)-1] != "delta-linux" { // no score sorts last
		t.Errorf("last row is %s, want delta-linux (no score); order %v", got[len(got)-1], got)
	}
	if th := parse(t, res).Find(`th[aria-sort="descending"]`); text(th) != "Risk score" || th.Find("a").AttrOr("href", "") != "/devices?dir=asc&kind=all&sort=risk" {
		t.Error("the sorted Risk score header lacks aria-sort=descending or a link that flips it")
	}
	asc := hosts(t, c.get("/devices?sort=risk&dir=asc").body)
	if asc[0] != "delta-linux" || !slices.Contains([]string{"alpha-desktop", "foxtrot", "juliet"}, asc[len(asc)-1]) {
		t.Errorf("sort=risk&dir=asc order %v", asc)
	}
	byHost := hosts(t, c.get("/devices").body)
	if byHost[0] != "alpha-desktop" || byHost[1] != "alpha-laptop" {
		t.Errorf("default order %v, want by host name", byHost)
	}
	desc := hosts(t, c.get("/devices?dir=desc").body)
	if desc[0] != "juliet" {
		t.Errorf("dir=desc order %v", desc)
	}
	// The filter form keeps the sort.
	if v := parse(t, res).Find(`form input[type="hidden"][name="sort"]`).AttrOr("value", ""); v != "risk" {
		t.Error("the filter form drops the sort")
	}
	// Sorting keeps the filters.
	f := c.get("/devices?tag=finance&sort=host&dir=desc")
	if href := withText(parse(t, f).Find("th a"), "Risk score").AttrOr("href", ""); href != "/devices?sort=risk&tag=finance" {
		t.Error("a sort link drops the filters")
	}
}

func TestDevicesPaging(t *testing.T) {
	e := newAdminEnv(t)
	ms := make([]defender.Machine, 120)
	for i := range ms {
		ms[i] = testMachine(i+1, fmt.Sprintf("host-%03d", i+1))
		ms[i].MachineTags = []string{"fleet"}
	}
	syncMachines(t, e.store, ms)
	c := e.signedIn()

	// Each page: its rows, its counts line, and the pager links (rel and
	// label) it has, which keep the filter and the sort.
	pages := []struct {
		path, counts string
		rows         int
		link, gone   string // rel of the link it has and of the one it lacks
		label, href  string
	}{
		{"/devices?tag=fleet", "Showing 1–50 of 120 devices", 50, "next", "prev", "Next", "/devices?page=2&tag=fleet"},
		{"/devices?tag=fleet&page=3&sort=host&dir=desc", "Showing 101–120 of 120 devices", 20, "prev", "next", "Previous", "/devices?dir=desc&page=2&tag=fleet"},
	}
	var third response
	for _, p := range pages {
		res := c.get(p.path)
		if n := rowCount(t, res.body); n != p.rows {
			t.Fatalf("%s has %d rows, want %d", p.path, n, p.rows)
		}
		doc := parse(t, res)
		if got := text(doc.Find(testID("range"))); got != p.counts {
			t.Errorf("%s: counts line %q, want %q", p.path, got, p.counts)
		}
		if a := doc.Find(`a[rel="` + p.link + `"]`); text(a) != p.label || a.AttrOr("href", "") != p.href {
			t.Errorf("%s has no %s link to %s", p.path, p.label, p.href)
		}
		if doc.Find(`a[rel="`+p.gone+`"]`).Length() != 0 {
			t.Errorf("%s has a rel=%s link", p.path, p.gone)
		}
		third = res
	}
	if h := hosts(t, third.body); h[0] != "host-020" || h[19] != "host-001" {
		t.Errorf("page 3 sorted desc shows %s … %s", h[0], h[19])
	}
	// Past the end shows the last page; nonsense pages the first.
	if n := rowCount(t, c.get("/devices?page=99").body); n != 20 {
		t.Errorf("page 99 shows %d rows, want the last page's 20", n)
	}
	if n := rowCount(t, c.get("/devices?page=-4").body); n != 50 {
		t.Errorf("page -4 shows %d rows, want the first page", n)
	}
}
