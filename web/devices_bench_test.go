package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/metrics"
	"postern/internal/model"
	"postern/internal/policy"
	"postern/internal/secret"
	"postern/internal/syncer"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// benchFleet is the size the Devices page must stay fast at.
const benchFleet = 100_000

// BenchmarkDevicesPage serves /devices through the real handler (session,
// CSRF, store, templ) over a store of 100,000 devices. Target: under 50 ms
// per page.
func BenchmarkDevicesPage(b *testing.B) {
	srv, cookie := benchServer(b)
	cases := []struct{ name, query string }{
		{"filtered", "risk=High&health=Active"},
		{"unfiltered", ""},
		{"search", "q=laptop-ana"},
		{"search_id", "q=" + fmt.Sprintf("%040x", 77_777)},
		{"search_substring", "q=priya-0"},
		{"search_substring_all", "show=all&q=ana&sort=risk"},
		{"tag", "tag=finance"},
		{"sort_risk", "sort=risk"},
		{"sort_last_seen", "sort=last_seen"},
		{"platform_page_20", "platform=Windows11&page=20"},
		{"all", "show=all&sort=exposure"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			path := "/devices"
			if tc.query != "" {
				path += "?" + tc.query
			}
			var last *httptest.ResponseRecorder
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.AddCookie(cookie)
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: status %d", path, rec.Code)
				}
				last = rec
			}
			if rowCount(b, last.Body.String()) == 0 {
				b.Fatalf("GET %s listed no device", path)
			}
		})
	}
	b.Run("detail", func(b *testing.B) {
		path := deviceURL(fmt.Sprintf("%040x", 4242))
		for b.Loop() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.AddCookie(cookie)
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s: status %d", path, rec.Code)
			}
		}
	})
}

// benchServer builds a console over a fresh store holding benchFleet
// devices and returns it with a signed-in session cookie.
func benchServer(b *testing.B) (*Server, *http.Cookie) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	st := teststore.OpenAt(b, filepath.Join(dir, "postern.db"), store.Options{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	kr, _, err := secret.LoadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	svc := integration.New(st, kr, log, integration.Options{})
	var devices fleet.Holder
	worker := syncer.New(st, svc, &devices, log, syncer.Options{Interval: time.Hour})
	tokens, err := auth.NewTokens(ctx, st, log, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	pol := policy.New(st, &devices, svc.Enabled, time.Hour, log, time.Now)
	srv := NewServer(Deps{Store: st, Integration: svc, Syncer: worker, Fleet: &devices, Tokens: tokens,
		Metrics: metrics.New(st, &devices, worker.Status, log), Policy: pol, Logger: log})

	start := time.Now()
	seedBenchFleet(b, st, benchFleet)
	if err := pol.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d devices in %s", benchFleet, time.Since(start).Round(time.Millisecond))

	post := func(path string, form url.Values, cookies []*http.Cookie) *http.Response {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Result()
	}
	if res := post("/setup", url.Values{"email": {testEmail}, "password": {testPassword}, "confirm": {testPassword}}, nil); res.StatusCode != http.StatusSeeOther {
		b.Fatalf("setup: status %d", res.StatusCode)
	}
	res := post("/login", url.Values{"email": {testEmail}, "password": {testPassword}}, nil)
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			return srv, c
		}
	}
	b.Fatalf("login set no session cookie (status %d)", res.StatusCode)
	return nil, nil
}

// seedBenchFleet stages n varied devices in pages of 10,000 and applies
// them in one successful run, as a sync would.
func seedBenchFleet(b testing.TB, st *store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	run, err := st.StartRun(ctx, "defender", "manual")
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const pageSize = 10_000
	for from := 0; from < n; from += pageSize {
		page := make([]model.Device, 0, pageSize)
		for i := from; i < min(from+pageSize, n); i++ {
			page = append(page, storedDevice(b, benchMachine(r, i)))
		}
		if err := st.StageDevices(ctx, run.ID, page); err != nil {
			b.Fatal(err)
		}
	}
	run.Outcome, run.Seen = model.RunSuccess, n
	if _, err := st.FinishRun(ctx, run, audit.Entry{Actor: "system", Action: "sync.finished", Outcome: audit.Success}); err != nil {
		b.Fatal(err)
	}
}

type weighted struct {
	v string
	w int
}

func pickW(r *rand.Rand, cs []weighted) string {
	total := 0
	for _, c := range cs {
		total += c.w
	}
	n := r.IntN(total)
	for _, c := range cs {
		if n < c.w {
			return c.v
		}
		n -= c.w
	}
	return cs[len(cs)-1].v
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Value mixes of a typical mid-size fleet ("" is null), as the emulator's.
var (
	benchPlatforms = []weighted{{"Windows11", 34}, {"Windows10", 30}, {"WindowsServer2022", 7}, {"WindowsServer2019", 5},
		{"WindowsServer2016", 1}, {"Linux", 9}, {"macOS", 7}, {"iOS", 3}, {"Android", 4}}
	benchHealth = []weighted{{"Active", 86}, {"Inactive", 7}, {"ImpairedCommunication", 3}, {"NoSensorData", 2},
		{"NoSensorDataImpairedCommunication", 1}, {"Unknown", 1}}
	benchOnboarding = []weighted{{"Onboarded", 92}, {"CanBeOnboarded", 4}, {"Unsupported", 2}, {"InsufficientInfo", 2}}
	benchRisk       = []weighted{{"None", 38}, {"Informational", 10}, {"Low", 24}, {"Medium", 13}, {"High", 6}, {"", 9}}
	benchExposure   = []weighted{{"None", 4}, {"Low", 36}, {"Medium", 44}, {"High", 10}, {"", 6}}
	benchAV         = []weighted{{"Updated", 80}, {"NotUpdated", 7}, {"Disabled", 2}, {"NotReporting", 4}, {"Unknown", 3}, {"", 4}}
	benchTags       = []string{"finance", "vpn-allowed", "byod", "kiosk", "pci", "engineering", "sales", "vip", "lab", "contractor"}
	benchNames      = []string{"ana", "ben", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo", "kai", "lena", "mo", "nia", "omar", "priya"}
	benchKinds      = []string{"laptop", "desktop", "srv", "vm", "mac", "phone"}
)

func benchMachine(r *rand.Rand, i int) defender.Machine {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	m := testMachine(i, fmt.Sprintf("%s-%s-%05d.corp.example.com", benchKinds[r.IntN(len(benchKinds))], benchNames[r.IntN(len(benchNames))], i))
	m.OSPlatform = pickW(r, benchPlatforms)
	m.HealthStatus = pickW(r, benchHealth)
	m.OnboardingStatus = pickW(r, benchOnboarding)
	m.RiskScore = orNil(pickW(r, benchRisk))
	m.ExposureLevel = orNil(pickW(r, benchExposure))
	m.DefenderAVStatus = orNil(pickW(r, benchAV))
	build := int64(19000 + r.IntN(7000))
	m.OSBuild = &build
	seen := defender.Time{Time: now.Add(-time.Duration(r.IntN(30*24*60)) * time.Minute)}
	m.LastSeen = &seen
	m.MachineTags = nil
	for range r.IntN(3) {
		if t := benchTags[r.IntN(len(benchTags))]; !contains(m.MachineTags, t) {
			m.MachineTags = append(m.MachineTags, t)
		}
	}
	if r.IntN(10) == 0 {
		m.AADDeviceID = nil
	}
	return m
}
