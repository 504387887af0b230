package web

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/defender/vocab"
	"postern/internal/emulator"
	"postern/internal/posture"
)

// toneClass is the colour class of each tone's badge.
var toneClass = map[vocab.Tone]string{vocab.Good: "bg-green-50", vocab.Warning: "bg-amber-50",
	vocab.Bad: "bg-red-50", vocab.Neutral: "bg-slate-100"}

// vocabFleet gives the emulator's machines every value of every list
// (and no value, where Defender may send none), then syncs them.
func vocabFleet(t *testing.T, d *defenderEnv, c *client) map[string]emulator.Machine {
	t.Helper()
	orNone := func(names []string) []*string {
		out := []*string{nil}
		for _, n := range names {
			out = append(out, &n)
		}
		return out
	}
	risk, exposure, av := orNone(vocab.Risk.Names()), orNone(vocab.Exposure.Names()), orNone(vocab.Antivirus.Names())
	health, onboarding, platforms := vocab.Health.Names(), vocab.Onboarding.Names(), vocab.Platform.Names()
	d.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for k := 0; len(ms) < len(platforms); k++ { // one machine per platform at least
			m := ms[k%len(ms)]
			m.ID, m.ComputerDNSName = fmt.Sprintf("%040x", 0xabc000+k), fmt.Sprintf("extra-%02d", k)
			ms = append(ms, m)
		}
		for i := range ms {
			m := &ms[i]
			m.HealthStatus, m.OnboardingStatus, m.OSPlatform = health[i%len(health)], onboarding[i%len(onboarding)], platforms[i%len(platforms)]
			m.RiskScore, m.ExposureLevel, m.DefenderAVStatus = risk[i%len(risk)], exposure[i%len(exposure)], av[i%len(av)]
		}
		return ms
	})
	first := d.worker.Status().LastRun.ID
	c.post("/settings/integrations/defender/sync", url.Values{})
	d.waitRunAfter(t, first)
	byID := map[string]emulator.Machine{}
	for _, m := range d.emu.Machines() {
		byID[m.ID] = m
	}
	return byID
}

// option is a value as sent and the words shown for it.
type option struct{ value, words string }

// offeredValues are what a list offers, in the order given, after Any.
func offeredValues(vals []vocab.Value, extra ...option) []option {
	out := []option{{"", "Any"}}
	for _, v := range vals {
		out = append(out, option{v.Name, v.Label})
	}
	return append(out, extra...)
}

// offered are the options of the select found by sel.
func offered(doc *goquery.Document, sel string) []option {
	var got []option
	doc.Find(sel + " option").Each(func(_ int, o *goquery.Selection) {
		got = append(got, option{o.AttrOr("value", "?"), text(o)})
	})
	return got
}

func deref0(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Every value of every list is shown the same way wherever it appears: in
// its words and tone on the Devices list, the dashboard, the Devices
// filters and the check editor, always sent in Defender's spelling, and in
// Defender's spelling in posture reasons.
func TestVocabularyShownEverywhere(t *testing.T) {
	d, c := connected(t)
	machines := vocabFleet(t, d, c)
	wantRedirect(t, saveCheck(t, c, "/zero-trust/posture-checks", url.Values{"name": {"Everything"}, "source": {"defender"},
		"health_status": {"Active"}, "onboarding_status": {"Onboarded"}, "max_risk": {"None"}, "max_exposure": {"None"},
		"av_statuses": {"Updated"}, "os_platforms": {"Windows11"}, "mode": {"enforce"}, "when_unavailable": {"deny"},
		"enabled": {"on"}}), "/zero-trust/posture-checks")

	list := parse(t, c.get("/devices?kind=all"))
	t.Run("devices filters", func(t *testing.T) { walkFilters(t, list) })
	t.Run("devices badges", func(t *testing.T) { walkBadges(t, list, machines) })
	t.Run("dashboard", func(t *testing.T) { walkDashboard(t, c) })
	t.Run("check editor", func(t *testing.T) { walkEditor(t, c) })
	t.Run("posture reasons", func(t *testing.T) { walkReasons(t, c, machines) })
}

// walkFilters: each filter offers Any, then every value in its words.
func walkFilters(t *testing.T, doc *goquery.Document) {
	worstFirst := func(e *vocab.Enum) []vocab.Value {
		v := e.Values()
		slices.Reverse(v)
		return v
	}
	for name, want := range map[string][]option{
		"health":     offeredValues(vocab.Health.Values()),
		"risk":       offeredValues(worstFirst(vocab.Risk), option{"unscored", vocab.Risk.Missing}),
		"exposure":   offeredValues(worstFirst(vocab.Exposure)),
		"onboarding": offeredValues(vocab.Onboarding.Values()),
	} {
		if got := offered(doc, `select[name="`+name+`"]`); !slices.Equal(got, want) {
			t.Errorf("filter %s offers %q, want %q", name, got, want)
		}
	}
	for _, p := range vocab.Platform.Values() {
		o := doc.Find(`select[name="platform"] option[value="` + p.Name + `"]`)
		if o.Length() != 1 || text(o) != p.Label {
			t.Errorf("platform filter: option %q shows %q, want %q", p.Name, text(o), p.Label)
		}
	}
}

// walkBadges: each row shows each of its device's values as a badge in
// the value's words and tone, and no badge when Defender sent none.
func walkBadges(t *testing.T, doc *goquery.Document, machines map[string]emulator.Machine) {
	rows := doc.Find(`tr[data-testid="device-row"]`)
	if rows.Length() < len(vocab.Platform.Values()) {
		t.Fatalf("%d rows", rows.Length())
	}
	rows.Each(func(_ int, row *goquery.Selection) {
		id, _ := url.PathUnescape(strings.TrimPrefix(row.Find("td a").First().AttrOr("href", ""), "/devices/"))
		m, ok := machines[id]
		if !ok {
			t.Fatalf("row for unknown device %q", id)
		}
		cells := row.Find("td")
		for i, f := range []struct {
			e     *vocab.Enum
			value string
		}{{vocab.Health, m.HealthStatus}, {vocab.Risk, deref0(m.RiskScore)}, {vocab.Exposure, deref0(m.ExposureLevel)},
			{vocab.Onboarding, m.OnboardingStatus}, {vocab.Antivirus, deref0(m.DefenderAVStatus)}} {
			badge := cells.Eq(i + 2).Find("span.rounded-full") // after Host name and Verdict
			if f.value == "" {
				if badge.Length() != 0 {
					t.Errorf("%s %s: no value, yet a badge %q", id, f.e.Field, text(badge))
				}
				continue
			}
			v, _ := f.e.Lookup(f.value)
			if text(badge) != v.Label || !badge.HasClass(toneClass[v.Tone]) {
				t.Errorf("%s %s %s: badge %q class %q, want %q in %s", id, f.e.Field, f.value, text(badge),
					badge.AttrOr("class", ""), v.Label, toneClass[v.Tone])
			}
		}
		if got, want := text(cells.Eq(7).Find("div").First()), vocab.Platform.Label(m.OSPlatform); got != want {
			t.Errorf("%s: OS %q, want %q", id, got, want)
		}
	})
}

// walkDashboard: each tally shows its value in words and tone, and its
// link lists exactly the devices it counts.
func walkDashboard(t *testing.T, c *client) {
	doc := parse(t, c.get("/"))
	for _, s := range []struct {
		title, param string
		e            *vocab.Enum
	}{{"Health status", "health", vocab.Health}, {"Risk score", "risk", vocab.Risk}} {
		items := doc.Find(`section[aria-label="` + s.title + `"] li`)
		if items.Length() < 2 {
			t.Fatalf("%s: %d tallies", s.title, items.Length())
		}
		items.Each(func(_ int, li *goquery.Selection) {
			href := li.Find("a").AttrOr("href", "")
			u, err := url.Parse(href)
			if err != nil {
				t.Fatal(err)
			}
			value := u.Query().Get(s.param)
			label, tone := s.e.Missing, vocab.Neutral
			if v, ok := s.e.Lookup(value); ok {
				label, tone = v.Label, v.Tone
			}
			badge := li.Find("span.rounded-full")
			if text(badge) != label || !badge.HasClass(toneClass[tone]) {
				t.Errorf("%s %q: badge %q class %q, want %q in %s", s.title, value, text(badge), badge.AttrOr("class", ""), label, toneClass[tone])
			}
			n, _ := strconv.Atoi(strings.Fields(text(li.Find("span.tabular-nums")))[0])
			filtered := parse(t, c.get(href))
			if rows := filtered.Find(`tr[data-testid="device-row"]`).Length(); n == 0 || rows != n {
				t.Errorf("%s %q counts %d devices; %s lists %d", s.title, label, n, href, rows)
			}
			if sel := filtered.Find(`select[name="`+s.param+`"] option[selected]`).AttrOr("value", ""); sel != value {
				t.Errorf("%s: the filter selects %q, want %q", href, sel, value)
			}
		})
	}
}

// walkEditor: the editor offers every value in its words and sends it in
// Defender's spelling.
func walkEditor(t *testing.T, c *client) {
	doc := parse(t, c.get("/zero-trust/posture-checks/new?source=defender"))
	for id, e := range map[string]*vocab.Enum{"max_risk": vocab.Risk, "max_exposure": vocab.Exposure} {
		if got, want := offered(doc, "select#"+id), offeredValues(e.Values()); !slices.Equal(got, want) {
			t.Errorf("%s offers %q, want %q", id, got, want)
		}
	}
	boxes := func(name string) map[string]string {
		out := map[string]string{}
		doc.Find(`input[name="` + name + `"]`).Each(func(_ int, in *goquery.Selection) {
			out[in.AttrOr("value", "")] = text(in.Parent())
		})
		return out
	}
	av := boxes("av_statuses")
	for _, v := range vocab.Antivirus.Values() {
		if av[v.Name] != v.Label {
			t.Errorf("antivirus status %q shows %q, want %q", v.Name, av[v.Name], v.Label)
		}
	}
	platforms := boxes("os_platforms")
	builds := map[string]string{}
	doc.Find(`input[name^="min_build."]`).Each(func(_ int, in *goquery.Selection) {
		builds[strings.TrimPrefix(in.AttrOr("name", ""), "min_build.")] = text(in.Parent())
	})
	for _, v := range vocab.Platform.Values() { // the common ones and every one synced
		wantBuild := "" // a minimum OS build only where Defender reports a build
		if posture.ReportsOSBuild(v.Name) {
			wantBuild = v.Label
		}
		if platforms[v.Name] != v.Label || builds[v.Name] != wantBuild {
			t.Errorf("platform %q shows %q, its minimum build %q, want %q and %q", v.Name, platforms[v.Name], builds[v.Name], v.Label, wantBuild)
		}
	}
	for id, want := range map[string]string{"health_status": vocab.HealthActive, "onboarding_status": vocab.Onboarded} {
		if o := doc.Find("select#" + id + ` option[value="` + want + `"]`); text(o) != "Must be "+want {
			t.Errorf("%s: option %q shows %q", id, want, text(o))
		}
	}
}

// walkReasons: a failing device's reasons name each observed value in
// Defender's spelling (the enforcement API's contract).
func walkReasons(t *testing.T, c *client, machines map[string]emulator.Machine) {
	for id, m := range machines {
		var reasons []string
		parse(t, c.get("/devices/"+url.PathEscape(id))).Find("#posture li p").Each(func(_ int, p *goquery.Selection) {
			reasons = append(reasons, text(p))
		})
		all := strings.Join(reasons, "\n")
		want := func(cond bool, reason string) {
			if cond && !strings.Contains(all, reason) {
				t.Errorf("%s: reasons lack %q:\n%s", id, reason, all)
			}
		}
		want(m.HealthStatus != vocab.HealthActive, "health status "+m.HealthStatus+", required Active")
		want(m.OnboardingStatus != vocab.Onboarded, "onboarding status "+m.OnboardingStatus+", required Onboarded")
		want(deref0(m.RiskScore) != "" && *m.RiskScore != "None", "risk score "+deref0(m.RiskScore)+" exceeds the allowed None")
		want(deref0(m.ExposureLevel) != "" && *m.ExposureLevel != "None", "exposure level "+deref0(m.ExposureLevel)+" exceeds the allowed None")
		want(deref0(m.DefenderAVStatus) != "" && *m.DefenderAVStatus != "Updated", "antivirus status "+deref0(m.DefenderAVStatus)+", required Updated")
		want(m.OSPlatform != "Windows11", "OS platform "+m.OSPlatform+", required Windows11")
	}
}
