package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/syncer"
	"postern/internal/testkit"
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
		{"filtered_kind_all", "risk=High&health=Active&kind=all"},
		{"unfiltered", ""},
		{"unfiltered_kind_all", "kind=all"},
		{"discovered", "kind=discovered"},
		{"search", "q=laptop-ana"},
		{"search_id", "q=" + fmt.Sprintf("%040x", 77_777)},
		{"search_substring", "q=priya-0"},
		{"search_substring_all", "show=all&q=ana&sort=risk"},
		{"tag", "tag=finance"},
		{"sort_risk", "sort=risk"},
		{"sort_last_seen", "sort=last_seen"},
		{"platform_page_20", "platform=Windows11&page=20"},
		{"platform_page_20_kind_all", "platform=Windows11&page=20&kind=all"},
		{"all", "show=all&sort=exposure"},
		{"verdict", "verdict=allowed"},
		{"verdict_sort_risk_page_20", "verdict=allowed&sort=risk&page=20"},
		{"verdict_search", "verdict=allowed&q=ana"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			path := "/devices"
			if tc.query != "" {
				path += "?" + tc.query
			}
			var last *httptest.ResponseRecorder
			for b.Loop() {
				last = benchGet(b, srv, cookie, path)
			}
			if rowCount(b, last.Body.String()) == 0 {
				b.Fatalf("GET %s listed no device", path)
			}
		})
	}
	b.Run("detail", func(b *testing.B) {
		path := deviceURL(fmt.Sprintf("%040x", 4242))
		for b.Loop() {
			benchGet(b, srv, cookie, path)
		}
	})
}

// BenchmarkDevicesExport downloads the Devices export of every device
// (removed and discovered included) over a store of 100,000 devices.
func BenchmarkDevicesExport(b *testing.B) {
	srv, cookie := benchServer(b)
	var last *httptest.ResponseRecorder
	for b.Loop() {
		last = benchGet(b, srv, cookie, "/devices.csv?show=all&kind=all")
	}
	if rows := bytes.Count(last.Body.Bytes(), []byte("\n")) - 1; rows < benchFleet {
		b.Fatalf("the export has %d rows, want %d", rows, benchFleet)
	}
	b.ReportMetric(float64(benchFleet)*float64(b.N)/b.Elapsed().Seconds(), "devices/s")
}

// benchGet serves GET path to the signed-in session and wants a 200.
func benchGet(b *testing.B, srv *Server, cookie *http.Cookie, path string) *httptest.ResponseRecorder {
	b.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.AddCookie(cookie)
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: status %d", path, rec.Code)
	}
	return rec
}

// benchConsole is the real console the benchmarks drive, over a fresh
// store, with its logs discarded.
type benchConsole struct {
	parts
	srv *Server
}

// newBenchConsole builds it; defenderOn makes Defender count as enabled
// without an integration, so checks evaluate for real instead of all
// answering "data source is disabled".
func newBenchConsole(b *testing.B, defenderOn bool) benchConsole {
	b.Helper()
	o := partsOptions{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now, syncer: syncer.Options{Interval: time.Hour}}
	if defenderOn {
		o.enabled = func(context.Context) (bool, error) { return true, nil }
	}
	p := newParts(b, o)
	return benchConsole{parts: p, srv: p.server(Deps{})}
}

// benchServer builds a console over a fresh store holding benchFleet
// devices and returns it with a signed-in session cookie.
func benchServer(b *testing.B) (*Server, *http.Cookie) {
	b.Helper()
	ctx := context.Background()
	con := newBenchConsole(b, false)
	srv, st, pol := con.srv, con.st, con.pol

	start := time.Now()
	seedBenchFleet(b, st, benchFleet)
	if err := pol.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	// The engine's verdicts over the fleet, for the Verdict filter (every
	// device allowed, without checks: the largest set to filter by).
	if err := con.worker.Load(ctx); err != nil {
		b.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	b.Cleanup(stop)
	go pol.Run(run)
	testkit.WaitFor(b, time.Minute, "the policy engine's first whole-fleet pass", func() bool { return pol.Tally().Current })
	b.Logf("seeded %d devices in %s", benchFleet, time.Since(start).Round(time.Millisecond))

	// Signed in over loopback, as the tests are; the benchmark then calls
	// the handler directly with the session cookie.
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	e := &testEnv{t: b, srv: srv, http: hs, store: st}
	e.setup()
	cookie := e.signedIn().cookie(sessionCookie)
	if cookie == nil {
		b.Fatal("login set no session cookie")
	}
	return srv, cookie
}

// seedBenchFleet records a successful sync of n varied devices, staged in
// pages of 10,000 as a sync stages them.
func seedBenchFleet(b testing.TB, st *store.Store, n int) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	syncRun(b, st, n, 10_000, func(i int) defender.Machine { return benchMachine(r, i) })
}

// Names and tags of the bench fleet; the signals come from the emulator's mixes.
var (
	benchTags  = []string{"finance", "vpn-allowed", "byod", "kiosk", "pci", "engineering", "sales", "vip", "lab", "contractor"}
	benchNames = []string{"ana", "ben", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo", "kai", "lena", "mo", "nia", "omar", "priya"}
	benchKinds = []string{"laptop", "desktop", "srv", "vm", "mac", "phone"}
)

func benchMachine(r *rand.Rand, i int) defender.Machine {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	m := testMachine(i, fmt.Sprintf("%s-%s-%05d.corp.example.com", benchKinds[r.IntN(len(benchKinds))], benchNames[r.IntN(len(benchNames))], i))
	sig := emulator.DrawSignals(r)
	m.OSPlatform, m.HealthStatus, m.OnboardingStatus = sig.Platform, sig.Health, sig.Onboarding
	m.RiskScore, m.ExposureLevel, m.DefenderAVStatus = orNil(sig.Risk), orNil(sig.Exposure), orNil(sig.AV)
	build := defender.Int64(19000 + r.IntN(7000))
	m.OSBuild = &build
	seen := defender.Time{Time: now.Add(-time.Duration(r.IntN(30*24*60)) * time.Minute)}
	m.LastSeen = &seen
	m.MachineTags = nil
	for range r.IntN(3) {
		if t := benchTags[r.IntN(len(benchTags))]; !slices.Contains(m.MachineTags, t) {
			m.MachineTags = append(m.MachineTags, t)
		}
	}
	if r.IntN(10) == 0 {
		m.AADDeviceID = nil
	}
	return m
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
