package posture

import (
	"strings"
	"testing"
	"time"

	"postern/internal/fleet"
)

func TestMatchDevice(t *testing.T) {
	day := 24 * time.Hour
	devices := []fleet.Device{
		{ID: "aaa1", Host: "laptop-ana.corp.example.com", AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000001", IsAADJoined: true, LastSeen: testNow.Add(-day)},
		// bob reinstalled: the old record is Inactive with an older lastSeen.
		{ID: "bbb-old", Host: "bob-pc", AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000002", LastSeen: testNow.Add(-30 * day), HealthStatus: "Inactive"},
		{ID: "bbb-new", Host: "BOB-PC", AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000002", LastSeen: testNow.Add(-day), HealthStatus: "Active"},
		// carol: the newest record is merged into another one.
		{ID: "ccc-merged", Host: "carol-mac", LastSeen: testNow, MergedInto: "ccc-survivor"},
		{ID: "ccc-survivor", Host: "carol-mac", LastSeen: testNow.Add(-2 * day)},
		// dave: Entra joined but Defender has no aadDeviceId.
		{ID: "ddd1", Host: "dave-laptop.corp.example.com", IsAADJoined: true, LastSeen: testNow},
		// erin: only a removed record by host, and a removed + live one by Entra id.
		{ID: "eee-gone", Host: "erin-pc", Removed: true, LastSeen: testNow},
		{ID: "fff-gone", Host: "frank-pc", AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000006", Removed: true, LastSeen: testNow},
		{ID: "fff-live", Host: "frank-pc2", AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000006", LastSeen: testNow.Add(-3 * day)},
		// gina: two machines with the same name; one removed, newer.
		{ID: "ggg-gone", Host: "gina", Removed: true, LastSeen: testNow},
		{ID: "ggg-live", Host: "gina", LastSeen: testNow.Add(-5 * day)},
		// hank: equal lastSeen; the potential duplicate loses, then the id decides.
		{ID: "hhh2", Host: "hank", LastSeen: testNow, PotentialDuplicate: true},
		{ID: "hhh3", Host: "hank", LastSeen: testNow},
		{ID: "hhh1", Host: "hank", LastSeen: testNow},
	}
	snap := fleet.NewSnapshot(devices, testNow, 1)
	tests := []struct {
		name   string
		req    Request
		wantID string
		wantBy string
	}{
		{"by defender id", Request{DefenderMachineID: "aaa1"}, "aaa1", MatchedByDefenderID},
		{"by defender id upper case", Request{DefenderMachineID: " AAA1 "}, "aaa1", MatchedByDefenderID},
		{"by entra id upper case", Request{AADDeviceID: "6B1D2E3F-0000-0000-0000-000000000001"}, "aaa1", MatchedByAADID},
		{"by host fqdn", Request{Hostname: "laptop-ana.corp.example.com"}, "aaa1", MatchedByHostname},
		{"by host first label", Request{Hostname: "LAPTOP-ANA"}, "aaa1", MatchedByHostname},
		{"by host fqdn of short name", Request{Hostname: "bob-pc.corp.example.com."}, "bbb-new", MatchedByHostname},
		{"defender id beats entra id", Request{DefenderMachineID: "bbb-old", AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000001"}, "bbb-old", MatchedByDefenderID},
		{"entra id beats host", Request{AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000001", Hostname: "bob-pc"}, "aaa1", MatchedByAADID},
		{"unmatched defender id falls through to entra", Request{DefenderMachineID: "nope", AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000002"}, "bbb-new", MatchedByAADID},
		{"unmatched ids fall through to host", Request{DefenderMachineID: "nope", AADDeviceID: "00000000-0000-0000-0000-000000000000", Hostname: "dave-laptop"}, "ddd1", MatchedByHostname},
		{"reinstall by entra id picks latest", Request{AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000002"}, "bbb-new", MatchedByAADID},
		{"reinstall by host picks latest", Request{Hostname: "bob-pc"}, "bbb-new", MatchedByHostname},
		{"not merged beats newer merged", Request{Hostname: "carol-mac"}, "ccc-survivor", MatchedByHostname},
		{"merged id resolves to survivor", Request{DefenderMachineID: "ccc-merged"}, "ccc-survivor", MatchedByDefenderID},
		{"null aad id cannot match by entra", Request{AADDeviceID: ""}, "", ""},
		{"null aad id with joined matches by host", Request{AADDeviceID: "11111111-2222-3333-4444-555555555555", Hostname: "dave-laptop.corp.example.com"}, "ddd1", MatchedByHostname},
		{"removed only as last resort", Request{Hostname: "erin-pc"}, "eee-gone", MatchedByHostname},
		{"removed by id yields to live by entra", Request{DefenderMachineID: "fff-gone", AADDeviceID: "6b1d2e3f-0000-0000-0000-000000000006"}, "fff-live", MatchedByAADID},
		{"removed by id yields to live by host", Request{DefenderMachineID: "eee-gone", Hostname: "gina"}, "ggg-live", MatchedByHostname},
		{"removed by id is kept over removed by host", Request{DefenderMachineID: "eee-gone", Hostname: "frank-pc"}, "eee-gone", MatchedByDefenderID},
		{"live beats newer removed", Request{Hostname: "gina"}, "ggg-live", MatchedByHostname},
		{"tie: not potential duplicate, then smallest id", Request{Hostname: "hank"}, "hhh1", MatchedByHostname},
		{"nothing matches", Request{DefenderMachineID: "x", AADDeviceID: "y", Hostname: "z"}, "", ""},
		{"no keys", Request{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MatchDevice(snap, tt.req)
			gotID := ""
			if got.Device != nil {
				gotID = got.Device.ID
			}
			if gotID != tt.wantID || got.MatchedBy != tt.wantBy {
				t.Errorf("got %q by %q, want %q by %q", gotID, got.MatchedBy, tt.wantID, tt.wantBy)
			}
		})
	}
	if got := MatchDevice(nil, Request{Hostname: "x"}); got.Device != nil || got.MatchedBy != "" {
		t.Errorf("nil snapshot: got %+v, want no match", got)
	}
}

// TestMergeCycle: bad data with a merge cycle must not loop.
func TestMergeCycle(t *testing.T) {
	snap := fleet.NewSnapshot([]fleet.Device{
		{ID: "a", MergedInto: "b"}, {ID: "b", MergedInto: "a"}, {ID: "c", MergedInto: "c"},
	}, testNow, 1)
	for _, id := range []string{"a", "c"} {
		if got := MatchDevice(snap, Request{DefenderMachineID: id}); got.Device == nil {
			t.Errorf("%s: got no match, want one", id)
		}
	}
}

// TestMatchChoosesTheProtectedRecord: among records that share a name or
// an Entra id, one not merged wins, then one Onboarded and not excluded,
// then the latest lastSeen (docs/design.md#matching).
func TestMatchChoosesTheProtectedRecord(t *testing.T) {
	day := 24 * time.Hour
	aad := "6b1d2e3f-0000-0000-0000-0000000000aa"
	devices := []fleet.Device{
		// ivan: device discovery's CanBeOnboarded record is newer than the onboarded one.
		{ID: "iii-disc", Host: "ivan-pc", OnboardingStatus: "CanBeOnboarded", LastSeen: testNow},
		{ID: "iii-onb", Host: "ivan-pc.corp.example.com", OnboardingStatus: "Onboarded", LastSeen: testNow.Add(-2 * day)},
		// jane: the newer onboarded record is excluded by an admin.
		{ID: "jjj-excl", Host: "jane-pc", AADDeviceID: aad, OnboardingStatus: "Onboarded", IsExcluded: true, LastSeen: testNow},
		{ID: "jjj-live", Host: "jane-pc", AADDeviceID: aad, OnboardingStatus: "onboarded", LastSeen: testNow.Add(-day)},
		// kim: a reinstall: both Onboarded and Active, the new one reported last.
		{ID: "kkk-old", Host: "kim-pc", OnboardingStatus: "Onboarded", HealthStatus: "Active", LastSeen: testNow.Add(-3 * day)},
		{ID: "kkk-new", Host: "kim-pc", OnboardingStatus: "Onboarded", HealthStatus: "Active", LastSeen: testNow.Add(-time.Hour)},
		// lee: not merged beats Onboarded: the onboarded record was merged away.
		{ID: "lll-merged", Host: "lee-pc", OnboardingStatus: "Onboarded", MergedInto: "lll-gone-target", LastSeen: testNow},
		{ID: "lll-disc", Host: "lee-pc", OnboardingStatus: "InsufficientInfo", LastSeen: testNow.Add(-day)},
		// only discovered records: the latest.
		{ID: "mmm-1", Host: "printer", OnboardingStatus: "Unsupported", LastSeen: testNow.Add(-day)},
		{ID: "mmm-2", Host: "printer", OnboardingStatus: "Unsupported", LastSeen: testNow},
	}
	snap := fleet.NewSnapshot(devices, testNow, 1)
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"onboarded beats a newer discovered record", Request{Hostname: "ivan-pc"}, "iii-onb"},
		{"not excluded beats a newer excluded record", Request{AADDeviceID: aad}, "jjj-live"},
		{"not excluded by host too", Request{Hostname: "jane-pc"}, "jjj-live"},
		{"latest lastSeen among onboarded", Request{Hostname: "kim-pc"}, "kkk-new"},
		{"not merged first", Request{Hostname: "lee-pc"}, "lll-disc"},
		{"latest among discovered", Request{Hostname: "printer"}, "mmm-2"},
		{"an id still names its record", Request{DefenderMachineID: "iii-disc"}, "iii-disc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := MatchDevice(snap, tc.req)
			if m.Device == nil || m.Device.ID != tc.want {
				t.Fatalf("matched %+v, want %s", m.Device, tc.want)
			}
		})
	}
}

// Every key a device is matched by has its own label for people; "none"
// and unknown values have none.
func TestMatchedByLabel(t *testing.T) {
	seen := map[string]string{}
	for _, by := range []string{MatchedByDefenderID, MatchedByAADID, MatchedByHostname} {
		l := MatchedByLabel(by)
		if l == "" || strings.Contains(l, "_") {
			t.Errorf("MatchedByLabel(%q) = %q", by, l)
		}
		if other, dup := seen[l]; dup {
			t.Errorf("%q and %q share the label %q", by, other, l)
		}
		seen[l] = by
	}
	for _, by := range []string{MatchedByNone, "", "os"} {
		if l := MatchedByLabel(by); l != "" {
			t.Errorf("MatchedByLabel(%q) = %q, want none", by, l)
		}
	}
}
