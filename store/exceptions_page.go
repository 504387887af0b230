package store

import (
	"context"

	"postern/internal/model"
)

// ExceptionPage lists the exceptions f matches, newest first, a page of
// limit from offset, each with its device's host name and its check's name,
// and how many match in all.
func (s *Store) ExceptionPage(ctx context.Context, f model.ExceptionFilter, limit, offset int) ([]model.ExceptionListing, int, error) {
	where := " WHERE 1 = 1"
	var args []any
	if f.DeviceID != "" {
		where += " AND x.device_id = ?"
		args = append(args, f.DeviceID)
	}
	if f.CheckID != 0 {
		where += " AND (x.check_id = ? OR x.check_id IS NULL)"
		args = append(args, f.CheckID)
	}
	if !f.ActiveAt.IsZero() {
		where += " AND x.revoked_at IS NULL AND x.expires_at > ?"
		args = append(args, formatTime(f.ActiveAt))
	}
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM posture_exceptions x"+where, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "Exceptions")
	}
	if limit <= 0 {
		limit = 50
	}
	q := `SELECT x.id, x.device_id, COALESCE(x.check_id, 0), x.reason, x.expires_at, x.created_by, x.created_at,
		x.revoked_at, COALESCE(x.revoked_by, ''), COALESCE(d.host, ''), COALESCE(c.name, '')
		FROM posture_exceptions x LEFT JOIN devices d ON d.id = x.device_id
		LEFT JOIN posture_checks c ON c.id = x.check_id` + where + " ORDER BY x.id DESC LIMIT ? OFFSET ?"
	out, err := collect(ctx, s.read, "Exceptions", q, append(args, limit, max(offset, 0)), func(r scanner) (model.ExceptionListing, error) {
		var l model.ExceptionListing
		x, err := scanException(extra{r, []any{&l.Host, &l.CheckName}})
		l.Exception = x
		return l, err
	})
	if out == nil && err == nil {
		out = []model.ExceptionListing{}
	}
	return out, total, err
}

// extra is a scanner that scans the columns after the ones its caller
// asks for into more.
type extra struct {
	r    scanner
	more []any
}

func (e extra) Scan(dest ...any) error { return e.r.Scan(append(dest, e.more...)...) }
