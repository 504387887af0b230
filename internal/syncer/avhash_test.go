package syncer

import (
	"encoding/binary"
	"hash/fnv"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/model"
)

// avHash is FNV-1a written out, so that it allocates nothing; it must give
// the hashes hash/fnv gave, or every stored row would be rewritten once.
func TestAVHashIsFNV1a(t *testing.T) {
	ref := func(a *model.DeviceAV) int64 {
		h := fnv.New64a()
		for _, s := range []string{a.MachineID, a.Mode, a.SignatureVersion, a.SignatureUpToDate, a.EngineVersion,
			a.EngineUpToDate, a.PlatformVersion, a.PlatformUpToDate, a.QuickScanResult, a.FullScanResult} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		var b [8]byte
		for _, t := range []*time.Time{a.SignaturePublishedAt, a.QuickScanAt, a.FullScanAt, a.RefreshedAt} {
			var n int64
			if t != nil {
				n = t.UnixNano()
			}
			binary.LittleEndian.PutUint64(b[:], uint64(n))
			h.Write(b[:])
		}
		return int64(h.Sum64())
	}
	at := func(s string) defender.Time {
		p, _ := time.Parse(time.RFC3339Nano, s)
		return defender.Time{Time: p}
	}
	rows := []defender.AVInfo{
		{MachineID: "a1"},
		{MachineID: "b2", AVMode: "0", SignatureVersion: "1.411.5.0", SignatureUpToDate: "True", EngineVersion: "1.1.24090.11",
			EngineUpToDate: "False", PlatformVersion: "4.18.24090.11", PlatformUpToDate: "Unknown", QuickScanResult: "Completed",
			FullScanResult: "Failed", SignaturePublishTime: at("2026-11-01T02:03:04.1234567Z"), QuickScanTime: at("1969-12-31T00:00:00Z"),
			FullScanTime: at("2026-10-01T00:00:00Z"), DataRefreshTimestamp: at("2026-11-02T00:00:00Z")},
		{MachineID: "c3", AVMode: "4", SignatureVersion: "é", FullScanTime: at("2026-10-01T00:00:00Z")},
	}
	f := avRows(rows)
	seen := map[int64]bool{}
	for i := range f.rows {
		a := &f.rows[i]
		if want := ref(a); a.Hash != want {
			t.Errorf("%s: hash %d, hash/fnv gives %d", a.MachineID, a.Hash, want)
		}
		seen[a.Hash] = true
		if got, want := *f.byID[a.MachineID], *avToFleet(*a); got != want {
			t.Errorf("%s: snapshot form %+v, the stored row reads back as %+v", a.MachineID, got, want)
		}
	}
	if len(seen) != len(rows) {
		t.Errorf("%d distinct hashes for %d different rows", len(seen), len(rows))
	}
}

// avToFleet is a stored row in its snapshot form, as the report's rows
// should give it.
func avToFleet(a model.DeviceAV) *fleet.AV {
	f := &fleet.AV{Mode: a.Mode, SignatureUpToDate: a.SignatureUpToDate, SignatureVersion: a.SignatureVersion}
	if a.SignaturePublishedAt != nil {
		f.SignaturePublishedAt = *a.SignaturePublishedAt
	}
	if a.FullScanAt != nil {
		f.FullScanAt = *a.FullScanAt
	}
	if a.RefreshedAt != nil {
		f.RefreshedAt = *a.RefreshedAt
	}
	return f
}
