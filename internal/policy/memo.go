package policy

import (
	"sync"
	"time"

	"postern/internal/fleet"
	"postern/internal/posture"
)

// A gateway asks about the same device over and over: nginx's
// auth_request asks once for every request a browser makes, dozens for
// one page. The engine remembers, for a second, the decisions it has just
// made, and answers a repeat from memory instead of running every check
// again.
//
// A remembered decision is exactly the one a new evaluation would give:
//   - it is answered only under the state (checks, exceptions, the
//     integration) and the snapshot it was made with: a Reload or a new
//     snapshot leaves the memo behind at once;
//   - never at or after its ValidUntil, the earliest moment the same data
//     could give another verdict (a data age, an exception, a last-seen
//     window, the outage grace), the promise a proxy caching it relies on;
//   - only for requests without a device report (an empty one is none),
//     whose answer depends on the snapshot alone.
//
// Reasons that state an age ("last seen 26 hours ago") may be up to
// memoTTL old.
const (
	memoTTL = time.Second
	// memoMax bounds the decisions remembered in one memoTTL (a few
	// kilobytes each); past it, decisions are made but not remembered.
	memoMax = 16384
)

// decisionMemo holds the decisions of one memoTTL, under one state and
// one snapshot.
type decisionMemo struct {
	s     *state
	snap  *fleet.Snapshot
	until time.Time // the memo is dropped then

	mu sync.RWMutex
	m  map[memoKey]*posture.Decision // each a Clone, never changed
}

// memoKey is a request as the gateway named the device.
type memoKey struct{ id, aad, host string }

// memoable reports whether req's decision may be remembered: it carries
// no device report.
func memoable(req posture.Request) bool { return req.Report == (posture.Report{}) }

func keyOf(req posture.Request) memoKey {
	return memoKey{req.DefenderMachineID, req.AADDeviceID, req.Hostname}
}

// holds reports whether m is the memo for s and snap at now.
func (m *decisionMemo) holds(s *state, snap *fleet.Snapshot, now time.Time) bool {
	return m != nil && m.s == s && m.snap == snap && now.Before(m.until)
}

// recall writes into dec the decision remembered for req, if one holds at
// now, and reports whether it did.
func (e *Engine) recall(dec *posture.Decision, s *state, snap *fleet.Snapshot, now time.Time, req posture.Request) bool {
	m := e.memo.Load()
	if !m.holds(s, snap, now) {
		return false
	}
	m.mu.RLock()
	d := m.m[keyOf(req)]
	m.mu.RUnlock()
	if d == nil || !d.ValidUntil.IsZero() && !now.Before(d.ValidUntil) {
		return false
	}
	dec.CopyFrom(d)
	if e.onMemoHit != nil {
		e.onMemoHit()
	}
	return true
}

// remember keeps a copy of dec, just made for req under s and snap at now.
func (e *Engine) remember(dec *posture.Decision, s *state, snap *fleet.Snapshot, now time.Time, req posture.Request) {
	old := e.memo.Load()
	m := old
	if !m.holds(s, snap, now) {
		m = &decisionMemo{s: s, snap: snap, until: now.Add(memoTTL), m: make(map[memoKey]*posture.Decision)}
		if !e.memo.CompareAndSwap(old, m) {
			return // another request has just replaced old
		}
	}
	m.mu.RLock()
	full := len(m.m) >= memoMax
	m.mu.RUnlock()
	if full {
		return
	}
	d := dec.Clone()
	m.mu.Lock()
	if len(m.m) < memoMax {
		m.m[keyOf(req)] = d
	}
	m.mu.Unlock()
}

// forget drops the memo: after a new snapshot or a reload it only holds
// the old one's decisions, and through them its devices, in memory.
func (e *Engine) forget() { e.memo.Store(nil) }
