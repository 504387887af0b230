package storetest

import (
	"fmt"
	"strings"
	"testing"

	"postern/internal/model"
)

// pageFleet syncs ten devices, Host-00 to Host-09, and removes Host-09:
//
//	platform   WindowsServer2022 for 0, 3, 6 (and 9); Windows11 otherwise
//	health     Inactive for 4; Active otherwise
//	risk       None, Low, Medium, High by i%4, none at all for 7
//	exposure   Low for even i, High for odd
//	onboarding CanBeOnboarded for 8; Onboarded otherwise
//	tags       all, and t0 or t1 by i%2
//	last seen  02:00 plus i minutes
func pageFleet(t *testing.T, s Store) {
	ds := devices(0, 10, "v1")
	for i := range ds {
		d := &ds[i]
		if i%3 == 0 {
			d.OSPlatform = "WindowsServer2022"
		}
		if i == 4 {
			d.HealthStatus = "Inactive"
		}
		d.RiskScore = ptr([]string{"None", "Low", "Medium", "High"}[i%4])
		if i == 7 {
			d.RiskScore = nil
		}
		d.ExposureLevel = ptr(map[bool]string{true: "Low", false: "High"}[i%2 == 0])
		if i == 8 {
			d.OnboardingStatus = "CanBeOnboarded"
		}
	}
	syncRun(t, s, ds)
	syncRun(t, s, ds[:9])
	syncRun(t, s, ds[:9])
}

// idSet is a model.DeviceSet.
type idSet map[string]bool

func (s idSet) Has(id string) bool { return s[id] }
func (s idSet) Len() int           { return len(s) }

// within is the set of the pageFleet devices numbered is.
func within(is ...int) idSet {
	set := idSet{}
	for _, i := range is {
		set[device(i, "").ID] = true
	}
	return set
}

func testDevicePage(t *testing.T, open Opener) {
	s := open(t)
	pageFleet(t, s)
	for _, tc := range []struct {
		name  string
		f     model.DeviceFilter
		want  string // host numbers in order
		total int    // -1: as many as want
	}{
		{"active, by host", model.DeviceFilter{}, "00 01 02 03 04 05 06 07 08", -1},
		{"a page", model.DeviceFilter{Limit: 3, Offset: 3}, "03 04 05", 9},
		{"past the end", model.DeviceFilter{Limit: 3, Offset: 30}, "", 9},
		{"removed only", model.DeviceFilter{Removed: "only"}, "09", -1},
		{"removed too", model.DeviceFilter{Removed: "all", Desc: true, Limit: 2}, "09 08", 10},
		{"host prefix, any case", model.DeviceFilter{Search: " HOST-0 "}, "00 01 02 03 04 05 06 07 08", -1},
		{"one host", model.DeviceFilter{Search: "host-05"}, "05", -1},
		{"exact id", model.DeviceFilter{Search: device(6, "").ID}, "06", -1},
		{"id prefix is no match", model.DeviceFilter{Search: device(6, "").ID[:20]}, "", -1},
		{"Entra device id", model.DeviceFilter{Search: "aad-07"}, "07", -1},
		{"health", model.DeviceFilter{Health: "Inactive"}, "04", -1},
		{"platform", model.DeviceFilter{Platform: "WindowsServer2022"}, "00 03 06", -1},
		{"risk", model.DeviceFilter{Risk: "Medium"}, "02 06", -1},
		{"exposure", model.DeviceFilter{Exposure: "High"}, "01 03 05 07", -1},
		{"onboarding", model.DeviceFilter{Onboarding: "CanBeOnboarded"}, "08", -1},
		{"tag", model.DeviceFilter{Tag: "t1"}, "01 03 05 07", -1},
		{"tag and platform", model.DeviceFilter{Tag: "t0", Platform: "WindowsServer2022"}, "00 06", -1},
		{"tag of removed ones", model.DeviceFilter{Tag: "t1", Removed: "only"}, "09", -1},
		{"search and filter", model.DeviceFilter{Search: "host", Exposure: "Low", Limit: 2}, "00 02", 5},
		{"last seen, newest first", model.DeviceFilter{Sort: "last_seen", Desc: true, Limit: 4}, "08 07 06 05", 9},
		{"risk by its scale, ties by host", model.DeviceFilter{Sort: "risk"}, "07 00 04 08 01 05 02 06 03", -1},
		{"exposure by its scale", model.DeviceFilter{Sort: "exposure", Desc: true, Limit: 3}, "01 03 05", 9},
		{"an unknown sort is by host", model.DeviceFilter{Sort: "bogus", Limit: 2}, "00 01", 9},
		{"within a set", model.DeviceFilter{Within: within(1, 4, 8)}, "01 04 08", -1},
		{"within an empty set", model.DeviceFilter{Within: idSet{}}, "", -1},
		{"within a set, paged", model.DeviceFilter{Within: within(2, 3, 5, 6), Desc: true, Limit: 2}, "06 05", 4},
		{"within a set and a filter", model.DeviceFilter{Within: within(0, 1, 2, 3), Exposure: "High"}, "01 03", -1},
		{"within a set, searched", model.DeviceFilter{Within: within(0, 5, 7), Search: "host-0", Sort: "last_seen", Desc: true}, "07 05 00", -1},
		{"within a set, past the end", model.DeviceFilter{Within: within(1, 2, 3), Limit: 2, Offset: 4}, "", 3},
		{"within a set, by tag", model.DeviceFilter{Within: within(0, 1, 2, 9), Tag: "t0", Removed: "all"}, "00 02", -1},
	} {
		page, total, err := s.DevicePage(t.Context(), tc.f)
		must(t, err, "DevicePage")
		got := hostNumbers(page)
		want := tc.total
		if want < 0 {
			want = len(strings.Fields(tc.want))
		}
		if got != tc.want || total != want {
			t.Errorf("%s: %q total %d, want %q total %d", tc.name, got, total, tc.want, want)
		}
		// The export reads the whole list, Limit and Offset aside, in
		// batches: the same devices in the same order as one long page.
		whole := tc.f
		whole.Limit, whole.Offset = 1000, 0
		page, _, err = s.DevicePage(t.Context(), whole)
		must(t, err, "DevicePage")
		var listed []model.Device
		batches := 0
		must(t, s.EachListed(t.Context(), tc.f, 2, func(b []model.Device) error {
			if len(b) == 0 || len(b) > 2 {
				t.Errorf("%s: a batch of %d devices, want 1 or 2", tc.name, len(b))
			}
			batches++
			listed = append(listed, b...)
			return nil
		}), "EachListed")
		if got, want := hostNumbers(listed), hostNumbers(page); got != want || batches != (len(page)+1)/2 {
			t.Errorf("%s: EachListed gave %q in %d batches, want %q in %d", tc.name, got, batches, want, (len(page)+1)/2)
		}
	}
}

// hostNumbers lists the numbers of Host-NN names.
func hostNumbers(page []model.Device) string {
	var out []string
	for _, d := range page {
		var n int
		if _, err := fmt.Sscanf(d.Host, "Host-%02d.contoso.com", &n); err != nil {
			out = append(out, d.Host)
			continue
		}
		out = append(out, fmt.Sprintf("%02d", n))
	}
	return strings.Join(out, " ")
}
