package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"postern/internal/defender/vocab"
	"postern/internal/model"
	"postern/store"
)

// randomDevices makes n devices with every filterable column varied: the
// vocabulary's values, some missing, host names sharing prefixes, tags.
func randomDevices(r *rand.Rand, n int) []model.Device {
	pick := func(names []string) string { return names[r.IntN(len(names))] }
	maybe := func(names []string) *string {
		if r.IntN(8) == 0 {
			return nil
		}
		v := pick(names)
		return &v
	}
	kinds := []string{"laptop", "srv", "desk", "kiosk"}
	tags := []string{"finance", "pci", "lab", "vip", "kiosk"}
	seen := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	out := make([]model.Device, n)
	for i := range out {
		d := model.Device{
			ID:         fmt.Sprintf("%040x", i+1),
			Host:       fmt.Sprintf("%s-%05d.corp.example.com", pick(kinds), i+1),
			OSPlatform: pick(vocab.Platform.Names()), HealthStatus: pick(vocab.Health.Names()),
			OnboardingStatus: pick(vocab.Onboarding.Names()),
			RiskScore:        maybe(vocab.Risk.Names()), ExposureLevel: maybe(vocab.Exposure.Names()),
			AVStatus: maybe(vocab.Antivirus.Names()),
			Raw:      []byte(`{}`), ContentHash: []byte(fmt.Sprint(i)),
		}
		if r.IntN(10) != 0 {
			aad := fmt.Sprintf("%08x-0000-4000-8000-%012x", r.Uint32(), i+1)
			d.AADDeviceID = &aad
		}
		last := seen.Add(-time.Duration(r.IntN(30*24*60)) * time.Minute)
		d.LastSeen = &last
		for range r.IntN(3) {
			if t := pick(tags); !strings.Contains(strings.Join(d.Tags, ","), t) {
				d.Tags = append(d.Tags, t)
			}
		}
		out[i] = d
	}
	return out
}

// The Devices page's indexed query (DevicePage) finds exactly what a plain
// scan (the test-only DevicesOracle) finds, for every filter and sort, and
// its pages partition the result.
func TestDevicePageMatchesOracle(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		ds := randomDevices(rand.New(rand.NewPCG(7, 7)), 400)
		syncDevices(t, s, ds)
		syncDevices(t, s, ds[:360]) // the last 40 are missed twice: removed
		syncDevices(t, s, ds[:360])
		ctx := context.Background()
		if ds[0].AADDeviceID == nil {
			t.Fatal("the first device has no Entra id")
		}
		entra := strings.ToUpper(*ds[0].AADDeviceID)
		var filters []model.DeviceFilter
		for _, removed := range []string{"", "only", "all"} {
			for _, f := range []model.DeviceFilter{
				{}, {Health: "Active"}, {Risk: "High"}, {Risk: "none"}, {Risk: "Low", Health: "Inactive"},
				{Exposure: "Medium"}, {Onboarding: "CanBeOnboarded"}, {Platform: "Linux"}, {Tag: "finance"},
				{Tag: "pci", Risk: "None"}, {Search: "laptop"}, {Search: ds[5].ID}, {Search: entra},
				{Search: "srv-", Health: "Active", Tag: "lab"}, {Search: "zzz"}, {Search: "TOP"}, {Search: "-0"},
			} {
				f.Removed = removed
				filters = append(filters, f)
			}
		}
		for _, f := range filters {
			for _, sort := range []string{"host", "risk", "last_seen", "exposure", "bogus"} {
				f.Sort, f.Desc, f.Limit = sort, sort == "risk", 1000
				want, wantTotal, err := s.DevicesOracle(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				got, gotTotal, err := s.DevicePage(ctx, f)
				if err != nil {
					t.Fatalf("%+v: %v", f, err)
				}
				if gotTotal != wantTotal || len(got) != len(want) {
					t.Fatalf("%+v: DevicePage found %d (total %d), the oracle %d (total %d)", f, len(got), gotTotal, len(want), wantTotal)
				}
				ids := map[string]bool{}
				for _, d := range want {
					ids[d.ID] = true
				}
				for _, d := range got {
					if !ids[d.ID] {
						t.Fatalf("%+v: DevicePage found %s, which the oracle did not", f, d.ID)
					}
				}
			}
		}
		assertPagesPartition(t, s, 360)
	})
}

func assertPagesPartition(t *testing.T, s *store.Store, active int) {
	t.Helper()
	f := model.DeviceFilter{Sort: "risk", Desc: true, Limit: 50}
	seen := map[string]bool{}
	for off := 0; ; off += 50 {
		f.Offset = off
		page, total, err := s.DevicePage(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			if seen[d.ID] {
				t.Fatalf("device %s on two pages", d.ID)
			}
			seen[d.ID] = true
		}
		if len(page) < 50 {
			if len(seen) != total || total != active {
				t.Fatalf("paging saw %d devices, total %d, want %d", len(seen), total, active)
			}
			return
		}
	}
}

// DeviceFilterValues lists each platform and tag present once, in order,
// removed devices' included.
func TestDeviceFilterValues(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		ds := randomDevices(rand.New(rand.NewPCG(3, 3)), 200)
		syncDevices(t, s, ds)
		platforms, tags := map[string]bool{}, map[string]bool{}
		for _, d := range ds {
			platforms[d.OSPlatform] = true
			for _, tag := range d.Tags {
				tags[tag] = true
			}
		}
		got, err := s.DeviceFilterValues(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]struct {
			got  []string
			want map[string]bool
		}{"platforms": {got.Platforms, platforms}, "tags": {got.Tags, tags}} {
			if len(c.got) != len(c.want) {
				t.Errorf("%s: got %v, want the %d present", name, c.got, len(c.want))
			}
			for i, v := range c.got {
				if !c.want[v] || (i > 0 && c.got[i-1] >= v) {
					t.Errorf("%s: %v is not the sorted distinct values present", name, c.got)
					break
				}
			}
		}
	})
}

// The search finds a host name by any part of it, not only its start, and
// ignores case.
func TestDevicePageSearchesAnyPartOfTheHostName(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		ds := randomDevices(rand.New(rand.NewPCG(9, 9)), 120)
		syncDevices(t, s, ds)
		want := 0
		for _, d := range ds {
			if strings.Contains(strings.ToLower(d.Host), "top-0") {
				want++
			}
		}
		if want == 0 {
			t.Fatal("no generated host name contains top-0")
		}
		got, total, err := s.DevicePage(context.Background(), model.DeviceFilter{Search: "TOP-0", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if total != want || len(got) != want {
			t.Fatalf("search TOP-0 found %d (total %d), want %d", len(got), total, want)
		}
		for _, d := range got {
			if !strings.Contains(d.Host, "top-0") {
				t.Errorf("search TOP-0 found %s", d.Host)
			}
		}
	})
}
