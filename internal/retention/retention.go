// Package retention keeps the audit log and the posture history to the
// configured number of days, and the decision log to its own (default 7): it deletes what is older in small batches,
// in the background, and records each pruning in the audit log.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
)

// Store is what pruning needs of the database. Each Prune call deletes at
// most batch rows older than cutoff, oldest first, and says how many.
type Store interface {
	PruneAudit(ctx context.Context, cutoff time.Time, batch int) (int, error)
	PruneHistory(ctx context.Context, cutoff time.Time, batch int) (int, error)
	PruneDecisions(ctx context.Context, cutoff time.Time, batch int) (int, error)
	DecisionsOverCap(ctx context.Context, keep int) (int64, error)
	PruneDecisionsThrough(ctx context.Context, last int64, batch int) (int, error)
	DecisionsBefore(ctx context.Context, before time.Time) (bool, error)
	PruneDecisionIndex(ctx context.Context, after string, batch int, before time.Time, through int64) (next string, n int, err error)
	PruneDecisionCheckSets(ctx context.Context) (int, error)
	AppendAudit(ctx context.Context, e audit.Entry) error
}

// Defaults: a pass an hour, the first a minute after start; batches of a
// thousand rows (a few milliseconds of the writer each) with a pause
// between them so that syncs and admins' writes get their turn.
const (
	DefaultEvery = time.Hour
	DefaultFirst = time.Minute
	DefaultBatch = 1000
	DefaultPause = 50 * time.Millisecond
	// DefaultDecisionDays is how long the decision log keeps its entries.
	DefaultDecisionDays = 7
	// DefaultDecisionMaxRows bounds the decision log by size as well as by
	// age: at 20,000 answers a second a week is billions of rows.
	DefaultDecisionMaxRows = 5_000_000
)

// Pruner deletes old entries; its zero timing fields take the defaults.
type Pruner struct {
	store Store
	days  int
	log   *slog.Logger
	now   func() time.Time

	Every, First, Pause time.Duration
	Batch               int
	// DecisionDays is how many days the decision log keeps (default 7).
	DecisionDays int
	// DecisionMaxRows is how many entries the decision log keeps at most,
	// the newest (default 5,000,000; 0: no cap).
	DecisionMaxRows int
}

// New returns a pruner keeping days days of st's audit log and history.
func New(st Store, days int, log *slog.Logger, now func() time.Time) *Pruner {
	if now == nil {
		now = time.Now
	}
	return &Pruner{store: st, days: days, log: log, now: now,
		Every: DefaultEvery, First: DefaultFirst, Pause: DefaultPause, Batch: DefaultBatch,
		DecisionDays: DefaultDecisionDays, DecisionMaxRows: DefaultDecisionMaxRows}
}

// Run prunes a minute after start and then every hour, until ctx ends. A
// failed pass is logged and retried at the next; Run returns nil at
// shutdown.
func (p *Pruner) Run(ctx context.Context) error {
	t := time.NewTimer(p.First)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, _, err := p.Prune(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("retention: prune", "err", err)
		}
		t.Reset(p.Every)
	}
}

// Prune deletes every audit entry and history row older than the
// retention, a batch at a time, and records the pruning in the audit log
// when it deleted anything. The decision log is pruned first, to its own
// retention and cap; its pruning is logged, not audited (it is an
// operational record, pruned daily).
func (p *Pruner) Prune(ctx context.Context) (auditRows, historyRows int, err error) {
	if err := p.pruneDecisions(ctx); err != nil && ctx.Err() == nil {
		p.log.Error("retention: prune decision log", "err", err)
	}
	// The sets of checks that no entry left can name, whatever pruned
	// the entries.
	if n, err := p.store.PruneDecisionCheckSets(ctx); err != nil && ctx.Err() == nil {
		p.log.Error("retention: prune decision log's check sets", "err", err)
	} else if n > 0 {
		p.log.Debug("retention: pruned the decision log's check sets", "sets", n)
	}
	cutoff := p.now().UTC().AddDate(0, 0, -p.days)
	if auditRows, err = p.drain(ctx, cutoff, p.store.PruneAudit); err == nil {
		historyRows, err = p.drain(ctx, cutoff, p.store.PruneHistory)
	}
	if auditRows+historyRows == 0 {
		return 0, 0, err
	}
	e := audit.As(actor.Retention, audit.Pruned, "Audit log and posture history")
	e.Detail = fmt.Sprintf("deleted %d audit entries and %d posture history rows older than %d days (before %s)",
		auditRows, historyRows, p.days, cutoff.Format("2 Jan 2006, 15:04 UTC"))
	if err != nil {
		e.Outcome = audit.Failure
		e.Detail += "; stopped early, the next pass goes on"
	}
	if aerr := p.store.AppendAudit(ctx, e); err == nil {
		err = aerr
	}
	p.log.Info("retention: pruned", "audit_entries", auditRows, "history_rows", historyRows, "before", cutoff)
	return auditRows, historyRows, err
}

// pruneDecisions deletes the decision log's entries older than its
// retention and those beyond its cap: their keys in the device index
// first, a run of devices at a time, and only once all of those are gone
// the entries themselves, a batch at a time. The index then never names
// an entry that is gone.
func (p *Pruner) pruneDecisions(ctx context.Context) error {
	var before time.Time
	old := false
	if days := p.DecisionDays; days > 0 {
		before = p.now().UTC().AddDate(0, 0, -days)
		var err error
		if old, err = p.store.DecisionsBefore(ctx, before); err != nil {
			return err
		}
	}
	var through int64
	if keep := p.DecisionMaxRows; keep > 0 {
		var err error
		if through, err = p.store.DecisionsOverCap(ctx, keep); err != nil {
			return err
		}
	}
	if !old && through == 0 {
		return nil
	}
	if !old {
		before = time.Time{}
	}
	keys, err := p.pruneDecisionIndex(ctx, before, through)
	if err != nil {
		return err
	}
	p.log.Debug("retention: pruned the decision log's device index", "keys", keys)
	if old {
		n, err := p.drain(ctx, before, p.store.PruneDecisions)
		if n > 0 {
			p.log.Info("retention: pruned decision log", "decisions", n, "before", before)
		}
		if err != nil {
			return err
		}
	}
	if through > 0 {
		n, err := p.drain(ctx, time.Time{}, func(ctx context.Context, _ time.Time, batch int) (int, error) {
			return p.store.PruneDecisionsThrough(ctx, through, batch)
		})
		if n > 0 {
			p.log.Info("retention: pruned decision log beyond its cap", "decisions", n, "max_rows", p.DecisionMaxRows)
		}
		return err
	}
	return nil
}

// indexBatch is how many keys of the decision log's device index one
// pruning transaction covers, in units of Batch: a key is a twentieth of
// an entry's size.
const indexBatch = 10

// pruneDecisionIndex deletes the device index's keys of the entries older
// than before or up to through, a run of devices at a time, and returns
// how many.
func (p *Pruner) pruneDecisionIndex(ctx context.Context, before time.Time, through int64) (int, error) {
	total, after := 0, ""
	for {
		next, n, err := p.store.PruneDecisionIndex(ctx, after, p.Batch*indexBatch, before, through)
		total += n
		if err != nil || next == "" {
			return total, err
		}
		after = next
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(p.Pause):
		}
	}
}

// drain calls prune until a batch comes back short, pausing between
// batches.
func (p *Pruner) drain(ctx context.Context, cutoff time.Time, prune func(context.Context, time.Time, int) (int, error)) (int, error) {
	total := 0
	for {
		n, err := prune(ctx, cutoff, p.Batch)
		total += n
		if err != nil || n < p.Batch {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(p.Pause):
		}
	}
}
