package syncer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"postern/internal/apperr"
	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/model"
)

// avFetch is what a run got from Defender's antivirus health report: the
// latest row per machine in both stored and snapshot form, or why not.
type avFetch struct {
	rows     []model.DeviceAV // sorted by machine id
	byID     map[string]*fleet.AV
	machines int
	err      error
}

// startAV reads the antivirus health report beside the machine listing
// (its own call budget: 30/min, 1,000/h), so a run waits for the longer of
// the two rather than both, and converts it off the sync's critical path.
// The channel always delivers exactly one result.
func (w *Worker) startAV(ctx context.Context, client *defender.Client) <-chan avFetch {
	out := make(chan avFetch, 1)
	opts := w.opts.List
	opts.PageSize = defender.AVPageSize
	go func() {
		rows, st, err := client.ListAVInfo(ctx, opts)
		if err != nil {
			out <- avFetch{err: err}
			return
		}
		f := avFetch{rows: make([]model.DeviceAV, 0, len(rows)), byID: make(map[string]*fleet.AV, len(rows)), machines: st.Machines}
		for _, r := range rows {
			a := ToDeviceAV(r)
			f.rows = append(f.rows, a)
			f.byID[a.MachineID] = avToFleet(a)
		}
		slices.SortFunc(f.rows, func(a, b model.DeviceAV) int { return strings.Compare(a.MachineID, b.MachineID) })
		out <- f
	}()
	return out
}

// errAVLate is why a report that outlived Options.AVGrace is unknown.
var errAVLate = errors.New("the antivirus health report was not read in time")

// awaitAV returns what the report read beside the listing got: at once,
// cancelled, when the listing failed; else within Options.AVGrace, or
// cancelled and late. avc is nil when no page of machines came.
func (w *Worker) awaitAV(avc <-chan avFetch, cancel context.CancelFunc, listingFailed bool) avFetch {
	switch {
	case avc == nil && listingFailed: // never started: no page came
		return avFetch{err: context.Canceled}
	case avc == nil: // a tenant with no machines has no report either
		return avFetch{byID: map[string]*fleet.AV{}}
	case listingFailed:
		cancel()
		return <-avc
	}
	t := time.NewTimer(w.opts.AVGrace)
	defer t.Stop()
	select {
	case f := <-avc:
		return f
	case <-t.C:
		cancel()
		if f := <-avc; f.err == nil {
			return f // it finished as the grace ran out
		}
		return avFetch{err: fmt.Errorf("%w: not within %s of the machine listing", errAVLate, w.opts.AVGrace)}
	}
}

// avResult words a report fetch for the run's record.
func avResult(runID int64, f avFetch) model.AVRun {
	r := model.AVRun{RunID: runID, OK: f.err == nil, Machines: f.machines}
	if f.err == nil {
		return r
	}
	var de *defender.Error
	switch {
	case errors.As(f.err, &de):
		r.Error, r.ErrorCode = de.Message, de.Code
	case errors.Is(f.err, errAVLate):
		r.Error, r.ErrorCode = "The antivirus health report was "+strings.TrimPrefix(f.err.Error(), errAVLate.Error()+": ")+"; the machines were applied without it.", "late"
	case errors.Is(f.err, context.Canceled), errors.Is(f.err, context.DeadlineExceeded):
		r.Error, r.ErrorCode = "The antivirus health report was not read before the sync ended.", "cancelled"
	default:
		r.Error, r.ErrorCode = "The antivirus health report could not be read: "+apperr.MessageOf(f.err), "internal"
	}
	return r
}

// AVUnknownReason is what the posture reasons and the device page say when
// a run's antivirus health is unknown.
func AVUnknownReason(r model.AVRun) string {
	if r.OK {
		return ""
	}
	msg := strings.TrimSpace(r.Error)
	if msg == "" {
		return "the last sync did not read the antivirus health report"
	}
	if r.ErrorCode != "" {
		msg = r.ErrorCode + ": " + msg
	}
	return "the last sync could not read the antivirus health report (" + strings.TrimSuffix(msg, ".") + ")"
}

// recordAV stores what the run got from the report: the rows that
// changed, or why the run's antivirus health is unknown.
func (w *Worker) recordAV(ctx context.Context, runID int64, f avFetch) {
	res := avResult(runID, f)
	if !res.OK {
		w.log.Warn("sync: antivirus health unknown for this run", "run", runID, "error_code", res.ErrorCode, "error", res.Error)
	}
	if _, err := w.store.ApplyAV(ctx, res, f.rows); err != nil {
		w.log.Error("sync: record antivirus health", "run", runID, "err", err)
	}
}

// attachAV sets every device's AV from byID (nil when the report lacks it).
func attachAV(devices []fleet.Device, byID map[string]*fleet.AV) {
	for i := range devices {
		devices[i].AV = byID[devices[i].ID]
	}
}

// ToDeviceAV maps a report row to its stored form, with the hash a sync
// compares to decide whether to write it.
func ToDeviceAV(r defender.AVInfo) model.DeviceAV {
	a := model.DeviceAV{
		MachineID: r.MachineID, Mode: string(r.AVMode), SignatureVersion: r.SignatureVersion,
		SignatureUpToDate: string(r.SignatureUpToDate), EngineVersion: r.EngineVersion,
		EngineUpToDate: string(r.EngineUpToDate), PlatformVersion: r.PlatformVersion,
		PlatformUpToDate: string(r.PlatformUpToDate), QuickScanResult: r.QuickScanResult,
		FullScanResult:       r.FullScanResult,
		SignaturePublishedAt: timePtr(r.SignaturePublishTime), QuickScanAt: timePtr(r.QuickScanTime),
		FullScanAt: timePtr(r.FullScanTime), RefreshedAt: timePtr(r.DataRefreshTimestamp),
	}
	a.Hash = avHash(&a)
	return a
}

func avHash(a *model.DeviceAV) int64 {
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

// avToFleet is a stored row in its snapshot form.
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
