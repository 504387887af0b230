package store

import (
	"context"
	"strings"
)

// DevicePage is Devices for the console's list, built to stay fast at
// 100,000 devices. Each devices row carries the whole machine (raw) and so
// spills into an overflow page; removed_at is stored after raw. Counting or
// filtering through the rows therefore reads an overflow page per device.
// Here the count and the page of ids come from the covering index
// devices_list (migration 0004), and only the rows shown are read.
func (s *Store) DevicePage(ctx context.Context, f DeviceFilter) ([]Device, int, error) {
	where, args := f.listWhere()
	const from = " FROM devices INDEXED BY devices_list"
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*)"+from+where, args...).Scan(&total); err != nil {
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
	ids, err := s.ids(ctx, "SELECT id"+from+where+" ORDER BY "+order+dir+", id LIMIT ? OFFSET ?",
		append(args, limit, max(f.Offset, 0))...)
	if err != nil || len(ids) == 0 {
		return []Device{}, total, err
	}
	byID, err := s.devicesByID(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Device, 0, len(ids))
	for _, id := range ids {
		if d, ok := byID[id]; ok { // a sync may have removed it in between
			out = append(out, d)
		}
	}
	return out, total, nil
}

// listWhere is where() with the search split into index lookups: a host
// name prefix range, an exact id and an exact Entra device id, each served
// by its own index rather than tested row by row.
func (f DeviceFilter) listWhere() (string, []any) {
	q := strings.ToLower(strings.TrimSpace(f.Search))
	f.Search = ""
	where, args := f.where()
	if q == "" {
		return where, args
	}
	if where == "" {
		where = " WHERE "
	} else {
		where += " AND "
	}
	where += `id IN (SELECT id FROM devices WHERE host_lower >= ? AND host_lower < ?
		UNION ALL SELECT id FROM devices WHERE id = ?
		UNION ALL SELECT id FROM devices WHERE aad_device_id = ?)`
	return where, append(args, q, q+"\uffff", q, q)
}

func (s *Store) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, "Devices")
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err, "Devices")
		}
		ids = append(ids, id)
	}
	return ids, mapErr(rows.Err(), "Devices")
}

func (s *Store) devicesByID(ctx context.Context, ids []string) (map[string]Device, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.read.QueryContext(ctx, "SELECT "+listColumns+" FROM devices WHERE id IN (?"+
		strings.Repeat(", ?", len(ids)-1)+")", args...)
	if err != nil {
		return nil, mapErr(err, "Devices")
	}
	defer rows.Close()
	out := make(map[string]Device, len(ids))
	for rows.Next() {
		d, err := scanDevice(rows, false)
		if err != nil {
			return nil, mapErr(err, "Devices")
		}
		out[d.ID] = d
	}
	return out, mapErr(rows.Err(), "Devices")
}
