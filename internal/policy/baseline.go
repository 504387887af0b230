package policy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"time"

	"postern/internal/actor"
	"postern/internal/fleet"
	"postern/internal/model"
)

// Nothing is lost across a stop. Each whole-fleet pass records its changes
// and the verdicts as they then stand (the baseline) in one transaction
// (Store.RecordVerdicts); a cause named by its owner is kept in the
// database (AddPendingCause) until that transaction files it. The first
// pass after a start compares with the baseline rather than only setting
// one, so a change that a kill -9 kept from being recorded, or one that
// happened while Postern was stopped (an exception expiring, the data
// turning stale, a sync applied before the crash), is recorded and sent
// once, under the best cause known: a pending cause, the sync run, an
// expired exception, stale data, else "while Postern was stopped".

// BaselineStore is what keeping the baseline needs of the database.
type BaselineStore interface {
	RecordVerdicts(ctx context.Context, changes []model.CauseChanges, base model.VerdictBaseline, done []int64) error
	VerdictBaseline(ctx context.Context) (model.VerdictBaseline, bool, error)
	AddPendingCause(ctx context.Context, p model.PendingCause) (int64, error)
	PendingCauses(ctx context.Context) ([]model.PendingCause, error)
}

// saved is what the last recorded baseline describes, to tell whether a
// pass must record a new one.
type saved struct {
	runID  int64
	checks []int64
	stale  bool
	ok     bool
}

// needsBaseline reports whether pass p must record its verdicts: they
// changed, or they cover other devices (a new sync) or checks than the
// recorded ones.
func (s saved) needsBaseline(p *pass, changed bool) bool {
	return changed || !s.ok || s.runID != p.snap.RunID || !slices.Equal(s.checks, p.ids) || s.stale != p.next.stale
}

// encodeBaseline packs v: the check ids, then each evaluated device's id
// and its row of results, gzipped.
func encodeBaseline(v *verdicts) []byte {
	var raw bytes.Buffer
	raw.Grow(len(v.results) + len(v.snap.Devices)*44)
	var scratch [binary.MaxVarintLen64]byte
	put := func(n uint64) { raw.Write(binary.AppendUvarint(scratch[:0], n)) }
	put(uint64(len(v.checks)))
	for _, id := range v.checks {
		put(uint64(id))
	}
	stride := len(v.checks) + 1
	for i := range v.snap.Devices {
		row := v.results[i*stride : (i+1)*stride]
		if row[0] == 0 {
			continue
		}
		id := v.snap.Devices[i].ID
		put(uint64(len(id)))
		raw.WriteString(id)
		raw.Write(row)
	}
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	return out.Bytes()
}

var errBaseline = errors.New("policy: the recorded verdicts cannot be read")

// decodeBaseline unpacks a recorded baseline as the previous pass's
// verdicts, over a snapshot that holds only the devices' ids.
func decodeBaseline(b model.VerdictBaseline) (*verdicts, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b.Data))
	if err != nil {
		return nil, errBaseline
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, errBaseline
	}
	get := func() (uint64, bool) {
		n, k := binary.Uvarint(raw)
		if k <= 0 {
			return 0, false
		}
		raw = raw[k:]
		return n, true
	}
	nChecks, ok := get()
	if !ok || nChecks > 1<<16 {
		return nil, errBaseline
	}
	v := &verdicts{checks: make([]int64, nChecks), stale: b.Stale, restored: true}
	for i := range v.checks {
		id, ok := get()
		if !ok {
			return nil, errBaseline
		}
		v.checks[i] = int64(id)
	}
	stride := int(nChecks) + 1
	var devices []fleet.Device
	for len(raw) > 0 {
		n, ok := get()
		if !ok || n > 1024 || uint64(len(raw)) < n+uint64(stride) {
			return nil, errBaseline
		}
		devices = append(devices, fleet.Device{ID: string(raw[:n])})
		v.results = append(v.results, raw[n:n+uint64(stride)]...)
		raw = raw[n+uint64(stride):]
	}
	v.snap = fleet.NewSnapshot(devices, b.At, b.RunID)
	return v, nil
}

// restore reads, once after a start, the verdicts last recorded and the
// causes still pending, so that the first pass records what changed since
// rather than only setting a baseline. Exceptions that expired since the
// baseline are named as causes. Without a recorded baseline (a new
// database) the first pass sets one, as before.
func (e *Engine) restore(ctx context.Context) error {
	bs, ok := e.store.(BaselineStore)
	if !ok {
		return nil
	}
	b, found, err := bs.VerdictBaseline(ctx)
	if err != nil {
		return err
	}
	pend, err := bs.PendingCauses(ctx)
	if err != nil {
		return err
	}
	var named []pending
	for _, p := range pend {
		named = append(named, pending{Cause: p.Cause, checkID: p.CheckID, deviceID: p.DeviceID, id: p.ID})
	}
	var prev *verdicts
	if found {
		if prev, err = decodeBaseline(b); err != nil {
			e.log.Error("policy: the recorded verdicts cannot be read; the first pass only sets them again", "err", err)
			prev = nil
		}
	}
	if prev != nil {
		exc, err := e.store.Exceptions(ctx, model.ExceptionFilter{})
		if err != nil {
			return err
		}
		now := e.now()
		for _, x := range exc {
			if x.RevokedAt == nil && x.ExpiresAt.After(b.At) && !x.ExpiresAt.After(now) {
				named = append(named, expiredCause(x.DeviceID, e.fleet.Load()))
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		e.last = prev
	}
	e.pending = append(named, e.pending...)
	if found {
		e.saved = saved{runID: b.RunID, stale: b.Stale, ok: prev != nil}
		if prev != nil {
			e.saved.checks = prev.checks
		}
	}
	return nil
}

// whileStopped is the cause of a change found at start that nothing
// better explains.
func whileStopped(since time.Time) model.Cause {
	return model.Cause{Kind: model.CauseWhileStopped, Actor: actor.Posture.Email,
		Label: "Changed while Postern was stopped (since " + since.UTC().Format("2 Jan 2006, 15:04 UTC") + ")"}
}
