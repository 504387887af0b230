package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/webhook/events"
)

// AppendHistory records the verdict changes of one cause in one
// transaction: the cause, its summary entry in the audit log (none when
// summary has no action) and every history row pointing at the cause. It
// returns the cause with its id and time.
func (s *Store) AppendHistory(ctx context.Context, cause model.Cause, entries []model.HistoryEntry, summary audit.Entry) (model.Cause, error) {
	if len(entries) == 0 {
		return cause, nil
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		cause, err = s.appendHistoryTx(ctx, tx, cause, entries, summary)
		return err
	})
	return cause, mapErr(err, "Posture history")
}

// appendHistoryTx is AppendHistory within tx.
func (s *Store) appendHistoryTx(ctx context.Context, tx *sql.Tx, cause model.Cause, entries []model.HistoryEntry, summary audit.Entry) (model.Cause, error) {
	now := s.now()
	if cause.At.IsZero() {
		cause.At = now
	}
	var auditID any
	if summary.Action != "" {
		id, err := insertAuditTx(ctx, tx, summary, now)
		if err != nil {
			return cause, err
		}
		auditID = id
	}
	var err error
	if cause.ID, err = insertID(ctx, tx, "INSERT INTO posture_causes (kind, ref, label, actor, at, audit_id) VALUES (?, ?, ?, ?, ?, ?)",
		cause.Kind, cause.Ref, cause.Label, cause.Actor, formatTime(cause.At), auditID); err != nil {
		return cause, err
	}
	if err := insertHistoryTx(ctx, tx, cause.ID, entries); err != nil {
		return cause, err
	}
	return cause, s.emitTx(ctx, tx, events.DeviceVerdictChanged, func() []model.WebhookEvent {
		return events.VerdictEvents(cause, entries, 0)
	})
}

func insertHistoryTx(ctx context.Context, tx *sql.Tx, causeID int64, entries []model.HistoryEntry) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO posture_history (device_id, check_id, check_name, at, from_result,
		to_result, reasons, signal, cause_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, e := range entries {
		reasons, err := json.Marshal(nonNil(e.Reasons))
		if err != nil {
			return err
		}
		var check any
		if e.CheckID != 0 {
			check = e.CheckID
		}
		if _, err := stmt.ExecContext(ctx, e.DeviceID, check, e.CheckName, formatTime(e.At), e.From, e.To,
			string(reasons), e.Signal, causeID); err != nil {
			return err
		}
	}
	return nil
}

const historyColumns = `h.id, h.device_id, COALESCE(h.check_id, 0), h.check_name, h.at, h.from_result, h.to_result,
	h.reasons, h.signal, COALESCE(c.id, 0), COALESCE(c.kind, ''), COALESCE(c.ref, ''), COALESCE(c.label, ''),
	COALESCE(c.actor, ''), COALESCE(c.at, h.at)`

const historyFrom = " FROM posture_history h LEFT JOIN posture_causes c ON c.id = h.cause_id"

// History returns a device's verdict changes (deviceID "" for every device),
// newest first.
// It does not count them all, as HistoryPage does.
func (s *Store) History(ctx context.Context, deviceID string, limit int) ([]model.HistoryEntry, error) {
	cond, args := historyWhere(model.HistoryFilter{DeviceID: deviceID})
	return s.historyRows(ctx, cond, args, limit, 0)
}

// HistoryPage returns the verdict changes that match f, newest first, and
// how many match in all: the Access changes view.
func (s *Store) HistoryPage(ctx context.Context, f model.HistoryFilter) ([]model.HistoryEntry, int, error) {
	cond, args := historyWhere(f)
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*)"+historyFrom+cond, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "Posture history")
	}
	out, err := s.historyRows(ctx, cond, args, f.Limit, f.Offset)
	return out, total, err
}

func (s *Store) historyRows(ctx context.Context, cond string, args []any, limit, offset int) ([]model.HistoryEntry, error) {
	return collect(ctx, s.read, "Posture history", "SELECT "+historyColumns+historyFrom+cond+
		" ORDER BY h.id DESC LIMIT ? OFFSET ?", append(args, s.limit(limit), offset), scanHistory)
}

// historyWhere turns f into a WHERE clause and its arguments.
func historyWhere(f model.HistoryFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.DeviceID != "" {
		add("h.device_id = ?", f.DeviceID)
	}
	switch {
	case f.CheckID == nil:
	case *f.CheckID == 0:
		where = append(where, "h.check_id IS NULL")
	default:
		add("h.check_id = ?", *f.CheckID)
	}
	if f.From != "" {
		add("h.from_result = ?", f.From)
	}
	if f.To != "" {
		add("h.to_result = ?", f.To)
	}
	if f.CauseID != 0 {
		add("h.cause_id = ?", f.CauseID)
	}
	if f.CauseKind != "" {
		add("c.kind = ?", f.CauseKind)
	}
	if len(where) == 0 {
		return "", nil
	}
	return whereAll(where), args
}

func scanHistory(r scanner) (model.HistoryEntry, error) {
	var e model.HistoryEntry
	var at, reasons, causeAt string
	c := &e.Cause
	err := r.Scan(&e.ID, &e.DeviceID, &e.CheckID, &e.CheckName, &at, &e.From, &e.To, &reasons, &e.Signal,
		&c.ID, &c.Kind, &c.Ref, &c.Label, &c.Actor, &causeAt)
	if err == nil {
		e.At, err = parseTime(at)
	}
	if err == nil {
		c.At, err = parseTime(causeAt)
	}
	if err == nil {
		err = json.Unmarshal([]byte(reasons), &e.Reasons)
	}
	return e, err
}

// Cause returns one recorded cause or NotFound.
func (s *Store) Cause(ctx context.Context, id int64) (model.Cause, error) {
	var c model.Cause
	var at string
	err := s.read.QueryRowContext(ctx, "SELECT id, kind, ref, label, actor, at FROM posture_causes WHERE id = ?", id).
		Scan(&c.ID, &c.Kind, &c.Ref, &c.Label, &c.Actor, &at)
	if err == nil {
		c.At, err = parseTime(at)
	}
	return c, mapErr(err, "Cause")
}

// CausesOfAudit maps the ids of summary entries in the audit log to the
// causes they summarise, for the audit log's links to Access changes.
func (s *Store) CausesOfAudit(ctx context.Context, auditIDs []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(auditIDs))
	if len(auditIDs) == 0 {
		return out, nil
	}
	marks := make([]string, len(auditIDs))
	args := make([]any, len(auditIDs))
	for i, id := range auditIDs {
		marks[i], args[i] = "?", id
	}
	type pair struct{ audit, cause int64 }
	pairs, err := collect(ctx, s.read, "Causes", "SELECT audit_id, id FROM posture_causes WHERE audit_id IN ("+
		strings.Join(marks, ", ")+")", args, func(r scanner) (pair, error) {
		var p pair
		return p, r.Scan(&p.audit, &p.cause)
	})
	for _, p := range pairs {
		out[p.audit] = p.cause
	}
	return out, err
}
