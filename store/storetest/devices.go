package storetest

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

func testDeviceReads(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"RoundTrip", deviceRoundTrip},
		tcase{"EachDevice", deviceEach},
		tcase{"EachSnapshotDevice", snapshotEach},
		tcase{"FilterValues", deviceFilterValues},
	)
}

// sparse is a machine Defender told little about.
func sparse(i int) model.Device {
	d := device(i, "v1")
	d.AADDeviceID, d.OSVersion, d.OSBuild, d.RiskScore, d.ExposureLevel, d.AVStatus = nil, nil, nil, nil, nil, nil
	d.FirstSeen, d.LastSeen, d.LastIP, d.Tags, d.IsAADJoined = nil, nil, nil, []string{}, false
	d.MergedInto, d.PotentialDuplicate = ptr(device(1, "").ID), true
	d.IsExcluded, d.ExclusionReason, d.RBACGroup = true, ptr("MachineOutOfScope"), nil
	return d
}

func deviceRoundTrip(t *testing.T, s Store) {
	ctx := t.Context()
	run := syncRun(t, s, []model.Device{device(1, "v1"), sparse(2)})
	for _, want := range []model.Device{device(1, "v1"), sparse(2)} {
		got, err := s.Device(ctx, want.ID)
		must(t, err, "Device")
		want.ChangedRunID = run.ID
		wantDevice(t, got, want)
		if !sameTime(got.ChangedAt, got.FirstSyncedAt) || !recent(s, got.ChangedAt) {
			t.Errorf("device %s first synced %v, changed %v; want both now", got.ID, got.FirstSyncedAt, got.ChangedAt)
		}
	}
	_, err := s.Device(ctx, device(3, "").ID)
	wantKind(t, err, apperr.NotFound, "Device of an unknown id")
}

// wantDevice compares what a device read returns with want, times to the
// microsecond; the store's own bookkeeping times are not compared.
func wantDevice(t *testing.T, got, want model.Device) {
	t.Helper()
	if !sameTimePtr(got.FirstSeen, want.FirstSeen) || !sameTimePtr(got.LastSeen, want.LastSeen) {
		t.Errorf("device %s seen %v-%v, want %v-%v", want.ID, got.FirstSeen, got.LastSeen, want.FirstSeen, want.LastSeen)
	}
	got.FirstSeen, got.LastSeen, want.FirstSeen, want.LastSeen = nil, nil, nil, nil
	got.FirstSyncedAt, got.ChangedAt = want.FirstSyncedAt, want.ChangedAt
	if len(got.Tags) == 0 && len(want.Tags) == 0 {
		got.Tags, want.Tags = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("device read back as\n%+v\nwant\n%+v", got, want)
	}
}

func deviceEach(t *testing.T, s Store) {
	ctx := t.Context()
	syncRun(t, s, devices(0, 3, "v1"))
	syncRun(t, s, devices(1, 3, "v1"))
	syncRun(t, s, devices(1, 3, "v1")) // device 0 is removed now
	var ids []string
	var removed int
	must(t, s.EachDevice(ctx, func(d model.Device) error {
		ids = append(ids, d.ID)
		if d.RemovedAt != nil {
			removed++
		}
		return nil
	}), "EachDevice")
	want := []string{device(0, "").ID, device(1, "").ID, device(2, "").ID}
	if !slices.Equal(ids, want) || removed != 1 {
		t.Errorf("EachDevice gave %q (%d removed), want %q by id, the removed one included", ids, removed, want)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.EachDevice(ctx, func(model.Device) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachDevice whose fn fails: %v after %d calls, want fn's error after 1", err, calls)
	}
}

func deviceFilterValues(t *testing.T, s Store) {
	if f, err := s.DeviceFilterValues(t.Context()); err != nil || len(f.Platforms)+len(f.Tags) != 0 {
		t.Errorf("DeviceFilterValues of an empty store = %+v, %v", f, err)
	}
	ds := devices(0, 4, "v1")
	ds[0].OSPlatform, ds[1].OSPlatform, ds[1].Tags = "WindowsServer2022", "macOS", []string{"zeta", "all"}
	syncRun(t, s, ds)
	f, err := s.DeviceFilterValues(t.Context())
	must(t, err, "DeviceFilterValues")
	if want := []string{"Windows11", "WindowsServer2022", "macOS"}; !slices.Equal(f.Platforms, want) {
		t.Errorf("platforms %q, want %q", f.Platforms, want)
	}
	if want := []string{"all", "t0", "t1", "zeta"}; !slices.Equal(f.Tags, want) {
		t.Errorf("tags %q, want %q", f.Tags, want)
	}
}

func testUpdateDevice(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	run := syncRun(t, s, devices(0, 3, "v1"))
	d := device(1, "v2")
	d.Host, d.HealthStatus, d.Tags = "rechecked.contoso.com", "Inactive", []string{"rechecked"}
	changed, err := s.UpdateDevice(ctx, d, entry(audit.DeviceRechecked, d.ID))
	if err != nil || !changed {
		t.Fatalf("UpdateDevice of new content = %v, %v; want changed", changed, err)
	}
	got, err := s.Device(ctx, d.ID)
	must(t, err, "Device")
	d.ChangedRunID = run.ID // the sync bookkeeping stays
	wantDevice(t, got, d)
	if !bytes.Equal(got.Raw, d.Raw) || !recent(s, got.ChangedAt) {
		t.Errorf("after the re-check: raw %s, changed %v", got.Raw, got.ChangedAt)
	}
	for tag, want := range map[string]int{"rechecked": 1, "t1": 0} {
		if page, _, err := s.DevicePage(ctx, model.DeviceFilter{Tag: tag}); err != nil || len(page) != want {
			t.Errorf("devices tagged %q after the re-check: %d, %v; want %d", tag, len(page), err, want)
		}
	}
	if changed, err := s.UpdateDevice(ctx, d, entry(audit.DeviceRechecked, d.ID)); err != nil || changed {
		t.Errorf("UpdateDevice of the same content = %v, %v; want unchanged", changed, err)
	}
	wantAudit(t, s, audit.DeviceRechecked, 2) // a re-check is audited, changed or not
	_, err = s.UpdateDevice(ctx, device(9, "v1"), entry(audit.DeviceRechecked, "nine"))
	wantKind(t, err, apperr.NotFound, "UpdateDevice of an unknown device")
	wantAudit(t, s, audit.DeviceRechecked, 2)
}
