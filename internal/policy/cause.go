package policy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
)

// Every verdict change has one cause. The code that owns the cause names
// it when it makes the engine reload (Service for checks and exceptions,
// IntegrationChanged for the integration); the engine finds the others
// itself while it recomputes (a new snapshot: the sync run; an exception
// gone past its expiry; data gone stale; time alone). Each cause that
// moved a verdict is written by the engine (recordChanges) as one
// transaction: the history rows, the cause and one summary entry in the
// audit log.

// pending is a cause named by its owner, waiting for the refresh that
// shows its effect. checkID and deviceID narrow what it can have changed
// (0 and "" for anything).
type pending struct {
	model.Cause
	checkID  int64
	deviceID string
	id       int64 // in the database's pending causes; 0 when not kept there
}

// pendingOf narrows a named cause to the check or device it concerns.
func pendingOf(c model.Cause) pending {
	p := pending{Cause: c}
	switch c.Kind {
	case model.CauseCheckCreated, model.CauseCheckUpdated, model.CauseCheckDeleted:
		p.checkID, _ = strconv.ParseInt(c.Ref, 10, 64)
	case model.CauseExceptionCreated, model.CauseExceptionRevoked, model.CauseExceptionExpired:
		p.deviceID = c.Ref
	}
	return p
}

// CheckCause names a change of check c by its admin.
func CheckCause(kind string, c model.PostureCheck, by string) model.Cause {
	verb := map[string]string{model.CauseCheckCreated: "created", model.CauseCheckUpdated: "edited",
		model.CauseCheckDeleted: "deleted"}[kind]
	return model.Cause{Kind: kind, Ref: strconv.FormatInt(c.ID, 10), Actor: by,
		Label: "Posture check “" + c.Name + "” " + verb + " by " + by}
}

// ExceptionCause names an exception of device d added or revoked by its
// admin.
func ExceptionCause(kind string, d model.Device, by string) model.Cause {
	verb := map[string]string{model.CauseExceptionCreated: "added", model.CauseExceptionRevoked: "revoked"}[kind]
	name := d.ID
	if d.Host != "" {
		name = d.Host
	}
	return model.Cause{Kind: kind, Ref: d.ID, Actor: by, Label: "Exception for " + name + " " + verb + " by " + by}
}

// integrationCause names a change of the Defender integration.
func integrationCause(ctx context.Context, enabled bool) model.Cause {
	kind, verb := model.CauseIntegrationDisabled, "disabled"
	if enabled {
		kind, verb = model.CauseIntegrationEnabled, "enabled"
	}
	by := actor.Name(ctx)
	return model.Cause{Kind: kind, Ref: "defender", Actor: by, Label: "Microsoft Defender " + verb + " by " + by}
}

// changes are the verdict changes of one cause in one refresh.
type changes struct {
	cause   model.Cause
	entries []model.HistoryEntry
	devices int
	moves   map[[2]string]int // overall from → to: devices
	signals []string
}

// attribution collects a refresh's changes by cause.
type attribution struct {
	named   []pending // named by their owners since the last refresh
	expired []pending // exceptions that expired since the last refresh
	stale   bool      // the data went stale since the last refresh
	fresh   bool      // a new sync made stale data fresh again
	sync    model.Cause
	// restored: the previous verdicts are those recorded before a start
	// (since is when), whose devices' signals are not known.
	restored bool
	since    time.Time
	byKey    map[string]*changes
	order    []*changes
}

func newAttribution(named []pending, prev, snap *fleet.Snapshot, staleNow, staleBefore bool) *attribution {
	a := &attribution{byKey: map[string]*changes{}, stale: staleNow && !staleBefore}
	for _, p := range named {
		if p.Kind == model.CauseExceptionExpired {
			a.expired = append(a.expired, p)
		} else {
			a.named = append(a.named, p)
		}
	}
	if prev != nil && snap.RunID != prev.RunID {
		a.fresh = staleBefore && !staleNow
		a.sync = model.Cause{Kind: model.CauseSyncRun, Ref: strconv.FormatInt(snap.RunID, 10), Actor: actor.Sync.Email,
			Label: "Sync run " + strconv.FormatInt(snap.RunID, 10)}
	} else {
		a.sync = model.Cause{Kind: model.CauseDeviceRechecked, Actor: actor.Sync.Email, Label: "Device data re-checked"}
	}
	return a
}

// causeOf picks the cause of device d's changes: new data first (its own
// signals, or the whole fleet's data fresh again), then what an admin did
// that can concern it, then time.
func (a *attribution) causeOf(d *fleet.Device, signal string, checks []int64) model.Cause {
	if signal != "" || a.fresh {
		return a.sync
	}
	var last *pending
	for i := range a.named {
		p := &a.named[i]
		switch {
		case p.deviceID != "":
			if p.deviceID == d.ID {
				return p.Cause
			}
			continue
		case p.checkID != 0 && slices.Contains(checks, p.checkID):
			return p.Cause
		}
		last = p
	}
	expired := func() *model.Cause {
		for i := range a.expired {
			if a.expired[i].deviceID == d.ID {
				return &a.expired[i].Cause
			}
		}
		return nil
	}
	if a.restored {
		// Compared with the verdicts recorded before a start: the device's
		// own causes first, then the sync applied since, if one was.
		if c := expired(); c != nil {
			return *c
		}
		if a.sync.Kind == model.CauseSyncRun {
			return a.sync
		}
	}
	if last != nil {
		return last.Cause
	}
	if c := expired(); c != nil {
		return *c
	}
	if a.stale {
		return model.Cause{Kind: model.CauseDataStale, Actor: actor.Posture.Email,
			Label: "Defender data became stale (no successful sync for 3 intervals)"}
	}
	if a.restored {
		return whileStopped(a.since)
	}
	return model.Cause{Kind: model.CauseReevaluated, Actor: actor.Posture.Email, Label: "Re-evaluated as time passed"}
}

// add files device d's entries under cause c.
func (a *attribution) add(c model.Cause, entries []model.HistoryEntry, signal string) {
	key := c.Kind + "\x00" + c.Ref + "\x00" + c.Label
	ch := a.byKey[key]
	if ch == nil {
		ch = &changes{cause: c, moves: map[[2]string]int{}}
		a.byKey[key] = ch
		a.order = append(a.order, ch)
	}
	ch.devices++
	for _, e := range entries {
		if e.CheckID == 0 {
			ch.moves[[2]string{e.From, e.To}]++
		}
	}
	ch.entries = append(ch.entries, entries...)
	for _, s := range strings.Split(signal, ", ") {
		if s != "" && !slices.Contains(ch.signals, s) {
			ch.signals = append(ch.signals, s)
		}
	}
}

// summary is the one audit entry of a cause: "6,583 devices changed
// verdict (pass → fail 6,000, pass → unknown 583)".
func (ch *changes) summary() audit.Entry {
	e := audit.As(actor.Posture, audit.VerdictsChanged, ch.cause.Label)
	type move struct {
		from, to string
		n        int
	}
	var moves []move
	verdicts := 0
	for k, n := range ch.moves {
		moves = append(moves, move{k[0], k[1], n})
		verdicts += n
	}
	slices.SortFunc(moves, func(a, b move) int {
		return cmp.Or(b.n-a.n, strings.Compare(a.from, b.from), strings.Compare(a.to, b.to))
	})
	parts := make([]string, len(moves))
	for i, m := range moves {
		parts[i] = m.from + " → " + m.to + " " + Thousands(m.n)
	}
	e.Detail = Thousands(verdicts) + " " + plural(verdicts, "device", "devices") + " changed verdict"
	if len(parts) > 0 {
		e.Detail += " (" + strings.Join(parts, ", ") + ")"
	}
	if rest := ch.devices - verdicts; rest > 0 {
		e.Detail += fmt.Sprintf("; %s more changed a check's result only", Thousands(rest))
	}
	if len(ch.signals) > 0 {
		e.Detail += "; signals changed: " + strings.Join(ch.signals, ", ")
	}
	return e
}

// recordChanges writes each cause's changes, with its summary, the
// verdicts of pass p when they need recording, and the end of the pending
// causes it filed, in one transaction.
func (e *Engine) recordChanges(ctx context.Context, a *attribution, p *pass, named []pending) error {
	var all []model.CauseChanges
	for _, ch := range a.order {
		ch.cause.At = ch.entries[0].At
		all = append(all, model.CauseChanges{Cause: ch.cause, Entries: ch.entries, Summary: ch.summary()})
	}
	bs, ok := e.store.(BaselineStore)
	if !ok {
		for _, ch := range all {
			if _, err := e.store.AppendHistory(ctx, ch.Cause, ch.Entries, ch.Summary); err != nil {
				return err
			}
		}
		return nil
	}
	var done []int64
	for _, n := range named {
		if n.id != 0 {
			done = append(done, n.id)
		}
	}
	e.mu.Lock()
	sv := e.saved
	e.mu.Unlock()
	var base model.VerdictBaseline
	if sv.needsBaseline(p, len(all) > 0) {
		base = model.VerdictBaseline{At: p.now, RunID: p.snap.RunID, Stale: p.next.stale, Data: encodeBaseline(p.next)}
	}
	if len(all) == 0 && base.Data == nil && len(done) == 0 {
		return nil
	}
	if err := bs.RecordVerdicts(ctx, all, base, done); err != nil {
		return err
	}
	if base.Data != nil {
		e.mu.Lock()
		e.saved = saved{runID: base.RunID, checks: slices.Clone(p.ids), stale: base.Stale, ok: true}
		e.mu.Unlock()
	}
	return nil
}

// expiredSince lists, as causes, the exceptions of old that are not in cur
// because they expired by now (revoked ones are named by RevokeException).
func expiredSince(old, cur []posture.Exception, snap *fleet.Snapshot, now time.Time) []pending {
	keep := make(map[int64]bool, len(cur))
	for _, x := range cur {
		keep[x.ID] = true
	}
	var out []pending
	for _, x := range old {
		if keep[x.ID] || x.ExpiresAt.After(now) {
			continue
		}
		out = append(out, expiredCause(x.DeviceID, snap))
	}
	return out
}

// expiredCause names the expiry of an exception of device id.
func expiredCause(id string, snap *fleet.Snapshot) pending {
	name := id
	if d, ok := snap.ByID(id); ok && d.Host != "" {
		name = d.Host
	}
	return pending{Cause: model.Cause{Kind: model.CauseExceptionExpired, Ref: id,
		Actor: actor.Posture.Email, Label: "Exception for " + name + " expired"}, deviceID: id}
}

// Thousands writes n with a comma every three digits: 6,583.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + Thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
