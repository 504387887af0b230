package syncer

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// DefaultRemovalGuard is the share of the active fleet, in percent, that
// one listing may mark missing before the run is held.
const DefaultRemovalGuard = 10

// autoAcceptAfter is how many consecutive runs must agree before a held
// removal is accepted without an admin.
const autoAcceptAfter = 3

// DecideRemoval is the mass-removal guard: a listing that would mark more
// than percent of the active fleet missing is held, unless the runs just
// before it were held too (autoAcceptAfter in a row), when it is accepted.
// A listing that would mark every active device missing is always held:
// only an admin may accept it.
func DecideRemoval(percent int, r model.Removal) model.RemovalVerdict {
	if r.Missing <= 0 || r.Active <= 0 {
		return model.RemovalVerdict{Verdict: model.RemovalApply}
	}
	all := r.Missing >= r.Active
	if !all && r.Missing*100 <= percent*r.Active {
		return model.RemovalVerdict{Verdict: model.RemovalApply}
	}
	if !all && r.HeldBefore >= autoAcceptAfter-1 {
		return model.RemovalVerdict{Verdict: model.RemovalAccept, By: actor.Sync.Email}
	}
	return model.RemovalVerdict{Verdict: model.RemovalHold, Note: HeldNote(percent, r.Missing, r.Active)}
}

// heldLabel starts every HeldNote: the note is stored as the run's error
// and may be read on its own, so it says that the run was held.
const heldLabel = "Held: "

// HeldNote says in plain words why a run was held.
func HeldNote(percent, missing, active int) string {
	if missing >= active {
		return fmt.Sprintf(heldLabel+"Microsoft listed none of the %s active devices. Nothing was marked missing and the previous device data is kept. "+
			"Removing every device is never accepted automatically: if they are really gone, an admin must accept it.", count(active))
	}
	return fmt.Sprintf(heldLabel+"this sync would mark %s of %s active devices missing (%s), more than the %d %% allowed. "+
		"Nothing was marked missing and the previous device data is kept. An admin may accept the removal; "+
		"it is accepted automatically if %d syncs in a row agree.", count(missing), count(active), share(missing, active), percent, autoAcceptAfter)
}

// HeldReason is a held run's note without its "Held:" label, as a
// sentence, for where the run is already said to be held (a notice's
// title, the Held badge beside it). A note without the label is kept.
func HeldReason(note string) string {
	rest, ok := strings.CutPrefix(note, heldLabel)
	if !ok || rest == "" {
		return note
	}
	return strings.ToUpper(rest[:1]) + rest[1:]
}

// share is missing of active as a percentage, to one decimal when needed.
func share(missing, active int) string {
	p := float64(missing) * 100 / float64(active)
	return strconv.FormatFloat(float64(int(p*10+0.5))/10, 'f', -1, 64) + " %"
}

// count writes n with thousands separators, as the console does.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// guard is how the worker finishes its runs: behind the mass-removal
// guard, audited as sync.run, plus sync.removal_accepted when the guard
// accepts a repeated removal.
func (w *Worker) guard() model.RunGuard {
	return model.RunGuard{
		Decide: func(r model.Removal) model.RemovalVerdict { return DecideRemoval(w.opts.RemovalGuard, r) },
		Audit: func(run model.SyncRun) []audit.Entry {
			out := []audit.Entry{runAudit(run)}
			if run.AcceptedBy != "" {
				out = append(out, acceptAudit(actor.Sync, run,
					fmt.Sprintf("accepted automatically after %d syncs in a row agreed", autoAcceptAfter)))
			}
			return out
		},
	}
}

// acceptAudit records the acceptance of run's removal by a.
func acceptAudit(a actor.Actor, run model.SyncRun, how string) audit.Entry {
	e := audit.As(a, audit.SyncRemovalAccepted, "Microsoft Defender")
	e.Detail = fmt.Sprintf("run %d: %s of %s active devices marked removed, %s", run.ID, count(run.Removed), count(run.Active), how)
	return e
}

// AcceptRemoval applies, at an admin's request, the removal that held run
// id stood for: the devices it did not see are marked removed, audited as
// sync.removal_accepted, and the snapshot is published. A sync then starts
// to bring the rest of the data up to date.
func (w *Worker) AcceptRemoval(ctx context.Context, id int64) (model.SyncRun, error) {
	a, err := actor.Admin(ctx)
	if err != nil {
		return model.SyncRun{}, err
	}
	run, err := w.store.AcceptHeldRun(ctx, id, a.Email, func(run model.SyncRun) audit.Entry {
		return acceptAudit(a, run, "accepted by an admin")
	})
	if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Conflict) {
		e := audit.As(a, audit.SyncRemovalAccepted, "Microsoft Defender")
		e.Detail = fmt.Sprintf("run %d", id)
		return run, audit.RecordRefusal(ctx, w.store, w.log, e, err)
	}
	if err != nil {
		return run, err
	}
	w.mu.Lock()
	if w.status.LastRun != nil && w.status.LastRun.ID == run.ID {
		r := run
		w.status.LastRun = &r
	}
	if w.status.Held != nil && w.status.Held.ID == run.ID {
		w.status.Held = nil
	}
	w.mu.Unlock()
	if err := w.publish(ctx); err != nil {
		w.log.ErrorContext(ctx, "sync: publish after accepting a removal", "run", id, "err", err)
	}
	if ok, err := w.source.Enabled(ctx); err == nil && ok {
		w.Trigger(TriggerManual)
	}
	return run, nil
}
