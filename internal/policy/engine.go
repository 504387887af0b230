// Package policy applies the posture checks to the fleet: it answers the
// enforcement API from memory, previews a draft check, keeps per-check
// counts, and records every change of a device's verdict.
package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/posture"
)

// EngineStore is what Engine reads of the database, and the history it appends.
type EngineStore interface {
	PostureChecks(ctx context.Context) ([]model.PostureCheck, error)
	Exceptions(ctx context.Context, f model.ExceptionFilter) ([]model.Exception, error)
	AppendHistory(ctx context.Context, cause model.Cause, entries []model.HistoryEntry, summary audit.Entry) (model.Cause, error)
}

// state is everything the hot path reads, replaced whole on every change.
type state struct {
	checks          []posture.Check // enabled and disabled, compiled
	src             []posture.Check // the same, as read, to tell a real change
	exceptions      []posture.Exception
	defenderEnabled bool
	grace           time.Duration // the integration's outage grace
	// gen increases with every Reload: counts computed for another
	// generation no longer describe what Evaluate answers.
	gen uint64
}

// Counts are devices by result.
type Counts struct{ Pass, Fail, Unknown int }

// Engine is safe for concurrent use.
type Engine struct {
	store    EngineStore
	fleet    *fleet.Holder
	enabled  func(context.Context) (bool, error) // is the Defender integration enabled?
	interval time.Duration                       // sync interval, for staleness
	log      *slog.Logger
	now      func() time.Time

	st     atomic.Pointer[state]
	counts atomic.Pointer[counted] // the last whole-fleet pass's
	// memo holds the decisions of the last second (memo.go); onMemoHit,
	// when set (by tests), is called for each answer it gives.
	memo      atomic.Pointer[decisionMemo]
	onMemoHit func()
	grace     func(context.Context) (time.Duration, error)
	wake      *time.Timer // recomputes at the next moment verdicts may move

	recompute chan struct{}
	reloadMu  sync.Mutex // one Reload publishes at a time, so gen only grows
	mu        sync.Mutex
	last      *verdicts // the verdicts of the last refresh, to compare with
	pending   []pending // causes named since the last refresh, with the state they made
	restored  bool      // restore has read the recorded verdicts
	saved     saved     // what the recorded verdicts describe
	// replicated: one of several replicas (Follow), recording only while
	// lead, the sync leader's context, is set (Lead).
	replicated bool
	lead       context.Context
}

// verdicts are every device's results at one refresh, packed: for device i
// of snap, results[i*(len(checks)+1)] is the overall verdict and the next
// len(checks) bytes are the checks' results in the order of checks. About
// 20 bytes a device instead of a map and a device copy each.
type verdicts struct {
	snap    *fleet.Snapshot
	checks  []int64
	results []byte
	stale   bool // the data was stale then
	// restored: read back from the database at start (snap holds only the
	// devices' ids; RunID and SyncedAt are the recorded run and time).
	restored bool
}

// Result codes in verdicts.results; 0 means not evaluated.
const (
	codePass byte = iota + 1
	codeFail
	codeUnknown
)

func code(r posture.Result) byte {
	switch r {
	case posture.Pass:
		return codePass
	case posture.Fail:
		return codeFail
	default:
		return codeUnknown
	}
}

func result(c byte) posture.Result {
	switch c {
	case codePass:
		return posture.Pass
	case codeFail:
		return posture.Fail
	default:
		return posture.Unknown
	}
}

// New returns an engine; call Reload before serving and Run for history.
func New(st EngineStore, h *fleet.Holder, enabled func(context.Context) (bool, error), interval time.Duration, log *slog.Logger, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	e := &Engine{store: st, fleet: h, enabled: enabled, interval: interval, log: log, now: now, recompute: make(chan struct{}, 1)}
	e.st.Store(&state{grace: integration.DefaultOutageGrace})
	return e
}

// ToCheck converts a stored check.
func ToCheck(c model.PostureCheck) (posture.Check, error) {
	var spec posture.Spec
	if err := json.Unmarshal([]byte(c.Spec), &spec); err != nil {
		return posture.Check{}, fmt.Errorf("policy: check %d: %w", c.ID, err)
	}
	return posture.Check{ID: c.ID, Name: c.Name, Source: c.DataSource, Mode: c.Mode, Enabled: c.Enabled,
		WhenUnavailable: c.WhenUnavailable, Spec: spec}, nil
}

// Reload re-reads checks, active exceptions and whether Defender is enabled,
// then asks for the counts and history to be recomputed.
func (e *Engine) Reload(ctx context.Context) error { return e.ReloadBecause(ctx, model.Cause{}) }

// ReloadBecause is Reload after a change named by cause: the verdicts it
// moves are recorded with it (a Kind "" names nothing).
func (e *Engine) ReloadBecause(ctx context.Context, cause model.Cause) error {
	stored, err := e.store.PostureChecks(ctx)
	if err != nil {
		return err
	}
	checks := make([]posture.Check, 0, len(stored))
	for _, c := range stored {
		pc, err := ToCheck(c)
		if err != nil {
			return err
		}
		checks = append(checks, pc)
	}
	exc, err := e.store.Exceptions(ctx, model.ExceptionFilter{ActiveAt: e.now()})
	if err != nil {
		return err
	}
	pe := make([]posture.Exception, len(exc))
	for i, x := range exc {
		pe[i] = posture.Exception{ID: x.ID, DeviceID: x.DeviceID, CheckID: x.CheckID, Reason: x.Reason,
			CreatedBy: x.CreatedBy, ExpiresAt: x.ExpiresAt}
	}
	enabled, err := e.enabled(ctx)
	if err != nil {
		return err
	}
	grace := integration.DefaultOutageGrace
	if e.grace != nil {
		if grace, err = e.grace(ctx); err != nil {
			return err
		}
	}
	var named pending
	if cause.Kind != "" {
		named = pendingOf(cause)
		// Kept until the pass that files it, so that a restart before
		// then still names it.
		if bs, ok := e.store.(BaselineStore); ok {
			if cause.At.IsZero() {
				cause.At = e.now()
			}
			id, err := bs.AddPendingCause(ctx, model.PendingCause{Cause: cause, CheckID: named.checkID, DeviceID: named.deviceID})
			if err != nil {
				e.log.Error("policy: keep a pending cause", "cause", cause.Label, "err", err)
			}
			named.id = id
		}
	}
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	// The new state and the cause that made it are recorded together, so
	// that the next refresh files the changes under that cause.
	e.mu.Lock()
	old := e.st.Load()
	if old.gen == 0 || !sameInputs(old, checks, pe, enabled, grace) {
		e.st.Store(&state{checks: posture.Compile(checks), src: checks, exceptions: pe, defenderEnabled: enabled,
			grace: grace, gen: old.gen + 1})
	}
	if cause.Kind != "" {
		e.pending = append(e.pending, named)
	}
	e.pending = append(e.pending, expiredSince(old.exceptions, pe, e.fleet.Load(), e.now())...)
	e.mu.Unlock()
	e.Recompute()
	return nil
}

// sameInputs reports whether a reload read what s already holds: the
// counts computed for s then stay current.
func sameInputs(s *state, checks []posture.Check, exc []posture.Exception, enabled bool, grace time.Duration) bool {
	return s.defenderEnabled == enabled && s.grace == grace && reflect.DeepEqual(s.src, checks) &&
		reflect.DeepEqual(s.exceptions, exc)
}

// Recompute asks the background loop to refresh counts and history soon.
func (e *Engine) Recompute() {
	select {
	case e.recompute <- struct{}{}:
	default:
	}
}

// Checks returns the compiled checks (enabled and disabled).
func (e *Engine) Checks() []posture.Check { return e.st.Load().checks }

// DefenderEnabled reports the integration state the engine evaluates with.
func (e *Engine) DefenderEnabled() bool { return e.st.Load().defenderEnabled }

// input builds the evaluation context for snap at now: the one staleness
// rule (freshnessAt) that Evaluate, the device page and the counts share.
func (e *Engine) input(s *state, snap *fleet.Snapshot, now time.Time) posture.Input {
	return inputFor(freshnessAt(snap, e.interval, s.grace, now), !s.defenderEnabled, now)
}

// Evaluate answers the enforcement API from memory: no database query.
func (e *Engine) Evaluate(req posture.Request) posture.Decision {
	var dec posture.Decision
	e.EvaluateInto(&dec, req)
	return dec
}

// EvaluateInto is Evaluate writing into dec, reusing the arrays of an
// earlier decision held there (posture.EvaluateInto). A decision just made
// for the same request is answered from memory (memo.go).
func (e *Engine) EvaluateInto(dec *posture.Decision, req posture.Request) {
	s := e.st.Load()
	snap := e.fleet.Load()
	now := e.now()
	memo := memoable(req)
	if memo && e.recall(dec, s, snap, now, req) {
		return
	}
	m := posture.MatchDevice(snap, req)
	fresh := freshnessAt(snap, e.interval, s.grace, now)
	in := inputFor(fresh, !s.defenderEnabled, now)
	in.Device, in.Report = m.Device, req.Report
	posture.EvaluateInto(dec, s.checks, s.exceptions, in, m)
	dec.ValidUntil = validUntil(s, fresh, m.Device, now)
	if memo {
		e.remember(dec, s, snap, now, req)
	}
}

// DeviceDecision evaluates one synced device as the API would for its id
// (a machine Defender merged into another is decided on the survivor).
func (e *Engine) DeviceDecision(d *fleet.Device) posture.Decision {
	s := e.st.Load()
	snap := e.fleet.Load()
	in := e.input(s, snap, e.now())
	m := asAPI(snap, d)
	in.Device = m.Device
	return posture.Evaluate(s.checks, s.exceptions, in, m)
}

// IntegrationChanged makes the enforcement answers follow a change of the
// Defender integration at once (subscribe it with
// integration.Service.Subscribe). A failure is logged; the periodic reload
// retries.
func (e *Engine) IntegrationChanged(ctx context.Context, ch integration.Change) {
	var cause model.Cause
	switch ch {
	case integration.Enabled, integration.Disabled:
		cause = integrationCause(ctx, ch == integration.Enabled)
	}
	if err := e.ReloadBecause(ctx, cause); err != nil {
		e.log.ErrorContext(ctx, "reload posture policy", "err", err)
	}
}
