package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
)

// AppendAudit records an entry, stamping the time if it is zero.
func (s *Store) AppendAudit(ctx context.Context, e audit.Entry) error {
	return mapErr(s.withTx(ctx, func(tx *sql.Tx) error { return appendAuditTx(ctx, tx, e, s.now()) }), "Audit entry")
}

// appendAuditTx records an entry inside the caller's transaction, so an
// action and its audit row commit together.
func appendAuditTx(ctx context.Context, tx *sql.Tx, e audit.Entry, now time.Time) error {
	_, err := insertAuditTx(ctx, tx, e, now)
	return err
}

// insertAuditTx is appendAuditTx returning the new entry's id.
func insertAuditTx(ctx context.Context, tx *sql.Tx, e audit.Entry, now time.Time) (int64, error) {
	if e.At.IsZero() {
		e.At = now
	}
	return insertID(ctx, tx,
		"INSERT INTO audit_log (at, actor, actor_role, source_ip, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		formatTime(e.At), e.Actor, string(e.ActorRole), e.SourceIP, e.Action, e.Target, e.Outcome, e.Detail)
}

// insertID runs an INSERT of one row into a table with an id column and
// returns the new row's id: RETURNING, which both engines speak
// (PostgreSQL's driver has no LastInsertId).
func insertID(ctx context.Context, tx *sql.Tx, insert string, args ...any) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, insert+" RETURNING id", args...).Scan(&id)
	return id, err
}

// AuditEntries returns the newest entries first and the total that match.
func (s *Store) AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, int, error) {
	where, args := auditWhere(s.eng, f)
	cond := whereAll(where)
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_log"+cond, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "Audit log")
	}
	out, err := collect(ctx, s.read, "Audit log", "SELECT id, at, actor, actor_role, source_ip, action, target, outcome, detail FROM audit_log"+cond+
		" ORDER BY id DESC LIMIT ? OFFSET ?", append(args, s.limit(f.Limit), f.Offset), scanAuditEntry)
	return out, total, err
}

// auditWhere turns f into conditions and their arguments.
func auditWhere(e *engine, f audit.Filter) ([]string, []any) {
	var where []string
	var args []any
	if f.Action != nil && *f.Action != "" {
		where = append(where, "action "+e.like+" ? ESCAPE '\\'")
		args = append(args, likePrefix(*f.Action))
	}
	if f.Category != "" {
		actions, except := audit.ActionsIn(f.Category)
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(actions)), ", ")
		not := ""
		if except {
			not = "NOT "
		}
		where = append(where, "action "+not+"IN ("+marks+")")
		for _, a := range actions {
			args = append(args, a)
		}
	}
	if f.Actor != nil && *f.Actor != "" {
		where = append(where, "actor = ? COLLATE NOCASE")
		args = append(args, *f.Actor)
	}
	if f.Target != "" {
		where = append(where, "target "+e.like+" ? ESCAPE '\\'")
		args = append(args, "%"+likePrefix(f.Target))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, formatTime(f.Until))
	}
	if f.Outcome != nil && *f.Outcome != "" {
		where = append(where, "outcome = ?")
		args = append(args, *f.Outcome)
	}
	return where, args
}

func scanAuditEntry(r scanner) (audit.Entry, error) {
	var e audit.Entry
	var at, role string
	err := r.Scan(&e.ID, &at, &e.Actor, &role, &e.SourceIP, &e.Action, &e.Target, &e.Outcome, &e.Detail)
	if err == nil {
		e.At, err = parseTime(at)
	}
	e.ActorRole = actor.Role(role)
	return e, err
}

func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}
