package store

import (
	"context"
	"database/sql"
	"time"

	"postern/internal/model"
)

// DBs exposes the writer and reader pools so tests can inspect every pooled
// connection's pragmas.
func (s *Store) DBs() (w, r *sql.DB) { return s.write, s.read }

// StagingDDL is stagingDDL, for the store's own tests.
var StagingDDL = stagingDDL

// DeviceSortTerm is the ORDER BY term of a device sort key.
func DeviceSortTerm(key string) string { return deviceSorts[key] }

// AppendAuditTx is appendAuditTx, for the store's transaction tests.
var AppendAuditTx = appendAuditTx

// WithTx is withTx, for the store's transaction tests.
func (s *Store) WithTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.withTx(ctx, fn)
}

// DevicesOracle is the plain reference query for DevicePage's indexed
// plan: one page of devices and the number that match, found by a scan.
func (s *Store) DevicesOracle(ctx context.Context, f model.DeviceFilter) ([]model.Device, int, error) {
	where, args := s.deviceWhere(f)
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices"+where, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "Devices")
	}
	order, ok := deviceSorts[f.Sort]
	if !ok {
		order = deviceSorts["host"]
	}
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.read.QueryContext(ctx, "SELECT "+listColumns+" FROM devices"+where+
		" ORDER BY "+order+dir+", id LIMIT ? OFFSET ?", append(args, limit, f.Offset)...)
	if err != nil {
		return nil, 0, mapErr(err, "Devices")
	}
	defer rows.Close()
	out := make([]model.Device, 0, limit)
	for rows.Next() {
		d, err := scanDevice(rows, false)
		if err != nil {
			return nil, 0, mapErr(err, "Devices")
		}
		out = append(out, d)
	}
	return out, total, mapErr(rows.Err(), "Devices")
}

// TamperAfterCopy makes MigrateStore run fn on the copy, in its
// transaction, before verifying it, until the test ends.
func TamperAfterCopy(t interface{ Cleanup(func()) }, fn func(exec func(query string) error) error) {
	tamperAfterCopy = fn
	t.Cleanup(func() { tamperAfterCopy = nil })
}

// AsReplica is s as another replica on the same database would write.
func (s *Store) AsReplica(name string) *Store {
	c := *s
	c.replica, c.sets = name, newCheckSets()
	return &c
}

// AsReplicaAt is AsReplica with a clock of its own.
func (s *Store) AsReplicaAt(name string, now func() time.Time) *Store {
	c := s.AsReplica(name)
	c.now = func() time.Time { return now().UTC() }
	return c
}

// FormatTime is a time as the store writes it.
var FormatTime = formatTime
