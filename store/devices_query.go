package store

import (
	"context"
	"errors"
	"slices"
	"strings"

	"postern/internal/model"
)

// DevicePage is Devices for the console's list, built to stay fast at
// 100,000 devices: the count and the page of ids come from the covering
// index devices_list (migration 0004), a search from three index lookups
// and a tag from its own rows, and only the rows shown are read.
func (s *Store) DevicePage(ctx context.Context, f model.DeviceFilter) ([]model.Device, int, error) {
	total := 0
	if f.Within == nil {
		var err error
		if total, err = s.deviceCount(ctx, f); err != nil {
			return nil, 0, err
		}
	}
	order := listOrder(f)
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	from, where, args := s.listQuery(f)
	var ids []string
	var err error
	if f.Within == nil {
		ids, err = s.ids(ctx, "SELECT id"+from+where+" ORDER BY "+order+" LIMIT ? OFFSET ?",
			append(args, limit, max(f.Offset, 0))...)
	} else {
		ids, total, err = s.idsWithin(ctx, "SELECT id"+from+where+" ORDER BY "+order, args, f, limit)
	}
	if err != nil || len(ids) == 0 {
		return []model.Device{}, total, err
	}
	byID, err := s.devicesByID(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]model.Device, 0, len(ids))
	for _, id := range ids {
		if d, ok := byID[id]; ok { // a sync may have removed it in between
			out = append(out, d)
		}
	}
	return out, total, nil
}

// listOrder is the ORDER BY of the list f asks for: its sort (by host
// name when unknown), ties by host name, then by id.
func listOrder(f model.DeviceFilter) string {
	order, ok := deviceSorts[f.Sort]
	if !ok || f.Sort == "host" {
		order, f.Sort = deviceSorts["host"], "host"
	}
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}
	if f.Sort != "host" { // ties, such as every High risk device, by name
		dir += ", host_lower"
	}
	return order + dir + ", id"
}

// EachListed calls fn with every device f matches (its Limit and Offset
// aside), in the list's order, batch at a time: the ids in one pass over
// the list's index, then the rows by id. Reading a whole list page by page
// with OFFSET walked the index from its start again for every page, which
// made the Devices export of 100,000 devices take 16 s.
func (s *Store) EachListed(ctx context.Context, f model.DeviceFilter, batch int, fn func([]model.Device) error) error {
	from, where, args := s.listQuery(f)
	ids, err := s.ids(ctx, "SELECT id"+from+where+" ORDER BY "+listOrder(f), args...)
	if err != nil {
		return err
	}
	if f.Within != nil {
		ids = slices.DeleteFunc(ids, func(id string) bool { return !f.Within.Has(id) })
	}
	out := make([]model.Device, 0, min(batch, len(ids)))
	for chunk := range slices.Chunk(ids, max(batch, 1)) {
		byID, err := s.devicesByID(ctx, chunk)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, id := range chunk {
			if d, ok := byID[id]; ok { // a sync may have removed it in between
				out = append(out, d)
			}
		}
		if err := fn(out); err != nil {
			return err
		}
	}
	return nil
}

// deviceCount counts the devices f matches. Without filters it counts
// whole index pages (SQLite's COUNT(*) fast path) instead of entries.
func (s *Store) deviceCount(ctx context.Context, f model.DeviceFilter) (int, error) {
	var n int
	plain := model.DeviceFilter{Sort: f.Sort, Desc: f.Desc, Limit: f.Limit, Offset: f.Offset, Removed: f.Removed, Kind: f.Kind}
	if f == plain && f.Removed == "" && f.Kind == model.DeviceKindProtected {
		// The default list: the active devices less the discovered ones,
		// the second count a few seeks of devices_kind.
		var active, discovered int
		err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices").Scan(&active)
		var removed int
		if err == nil {
			err = s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices WHERE removed_at IS NOT NULL").Scan(&removed)
		}
		if err == nil {
			err = s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices"+s.eng.indexed("devices_kind")+" WHERE removed_at IS NULL AND onboarding_status IN "+discoveredSQL).Scan(&discovered)
		}
		return active - removed - discovered, mapErr(err, "Devices")
	}
	if f == plain && f.Kind == "" && f.Removed != "only" {
		var all, removed int
		err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices").Scan(&all)
		if err == nil && f.Removed != "all" {
			err = s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices WHERE removed_at IS NOT NULL").Scan(&removed)
		}
		return all - removed, mapErr(err, "Devices")
	}
	from, where, args := s.listQuery(f)
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*)"+from+where, args...).Scan(&n)
	return n, mapErr(err, "Devices")
}

// listQuery is the FROM clause (with its WHERE) of the devices f matches,
// each with its id and the columns the sorts use, read from a covering
// index (migration 0004) chosen for the filters:
//   - a search: the host names of the covering index, searched for the
//     term anywhere in them (a scan of the index, never of the rows with
//     their overflow pages), and two index lookups (exact id, exact Entra
//     device id);
//   - a tag: the tag's rows, then each of its devices by id;
//   - otherwise devices_list, which holds active devices by host name.
func (s *Store) listQuery(f model.DeviceFilter) (from, where string, args []any) {
	q := strings.ToLower(strings.TrimSpace(f.Search))
	f.Search = ""
	if q == "" && f.Tag != "" {
		// The tag's rows lead, and only its devices are looked up by id.
		tag := f.Tag
		f.Tag = ""
		where, args = s.deviceWhere(f)
		if where == "" {
			where = " WHERE device_tags.tag = ?"
		} else {
			where = " WHERE device_tags.tag = ? AND" + strings.TrimPrefix(where, " WHERE")
		}
		return " FROM device_tags " + s.eng.crossJoin + " devices ON devices.id = device_tags.device_id", where, append([]any{tag}, args...)
	}
	where, args = s.deviceWhere(f)
	if q == "" {
		return " FROM devices" + s.eng.indexed("devices_list"), where, args
	}
	and := func(cond string) string {
		if where == "" {
			return " WHERE " + cond
		}
		return where + " AND " + cond
	}
	const cols = "SELECT id, host_lower, last_seen, health_status, os_platform, risk_score, exposure_level FROM devices"
	from = " FROM (" + cols + and("id = ?") +
		" UNION " + cols + s.eng.indexed("devices_aad") + and("aad_device_id = ?")
	all := make([]any, 0, 3*len(args)+3)
	all = append(append(all, args...), q)
	all = append(append(all, args...), q)
	if !identifierShaped(q) {
		from += " UNION " + cols + s.eng.indexed("devices_list") + and(s.eng.contains("host_lower"))
		all = append(append(all, args...), q)
	}
	return from + ") AS found", "", all
}

// identifierShaped reports whether a search term is a whole Defender
// machine id (40 hex digits) or a GUID (an Entra device id): those are
// looked up exactly, and the scan of host names is skipped.
func identifierShaped(q string) bool {
	hex := func(s string) bool {
		for _, r := range s {
			if !strings.ContainsRune("0123456789abcdef", r) {
				return false
			}
		}
		return true
	}
	if len(q) == 40 {
		return hex(q)
	}
	parts := strings.Split(q, "-")
	if len(q) != 36 || len(parts) != 5 {
		return false
	}
	for i, n := range []int{8, 4, 4, 4, 12} {
		if len(parts[i]) != n || !hex(parts[i]) {
			return false
		}
	}
	return true
}

// DeviceFilterValues returns the platforms and (at most 500) tags present
// among devices, by index seeks: one per distinct value rather than a scan
// of every device and tag.
func (s *Store) DeviceFilterValues(ctx context.Context) (model.DeviceFacets, error) {
	var f model.DeviceFacets
	var err error
	if f.Platforms, err = collect(ctx, s.read, "Device filters", `WITH RECURSIVE v(x) AS (
			SELECT MIN(os_platform) FROM devices
			UNION ALL SELECT (SELECT MIN(os_platform) FROM devices WHERE os_platform > v.x) FROM v WHERE v.x IS NOT NULL)
		SELECT x FROM v WHERE x IS NOT NULL`, nil, scanString); err != nil {
		return f, err
	}
	f.Tags, err = collect(ctx, s.read, "Device filters", `WITH RECURSIVE v(x) AS (
			SELECT MIN(tag) FROM device_tags
			UNION ALL SELECT (SELECT MIN(tag) FROM device_tags WHERE tag > v.x) FROM v WHERE v.x IS NOT NULL`+s.eng.recursiveLimit(501)+`)
		SELECT x FROM v WHERE x IS NOT NULL LIMIT 500`, nil, scanString)
	return f, err
}

// idsWithin reads the ids query lists, in its order, keeps those in
// f.Within and returns the page [f.Offset, f.Offset+limit) of them with how
// many there are. The set lives in memory (the policy engine's verdicts),
// so the ids come from the list's index and the set is asked about each.
// When the set is the only filter, its size is the total and the scan
// stops at the end of the page: a first page reads a few hundred index
// entries, not the fleet.
func (s *Store) idsWithin(ctx context.Context, query string, args []any, f model.DeviceFilter, limit int) ([]string, int, error) {
	offset, set := max(f.Offset, 0), f.Within
	f.Within = nil // a set need not be comparable
	known := f == model.DeviceFilter{Sort: f.Sort, Desc: f.Desc, Limit: f.Limit, Offset: f.Offset}
	var page []string
	n := 0
	var id string
	err := eachRow(ctx, s.read, "Devices", query, args, func(r scanner) error {
		if err := r.Scan(&id); err != nil {
			return err
		}
		if !set.Has(id) {
			return nil
		}
		if n >= offset && n < offset+limit {
			page = append(page, id)
		}
		n++
		if known && n >= offset+limit {
			return errPageFull
		}
		return nil
	})
	if known {
		n = set.Len()
	}
	if errors.Is(err, errPageFull) {
		err = nil
	}
	return page, n, err
}

// errPageFull stops idsWithin's scan once the page is full.
var errPageFull = errors.New("page full")

func (s *Store) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	return collect(ctx, s.read, "Devices", query, args, scanString)
}

func (s *Store) devicesByID(ctx context.Context, ids []string) (map[string]model.Device, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	out := make(map[string]model.Device, len(ids))
	err := eachRow(ctx, s.read, "Devices", "SELECT "+listColumns+" FROM devices WHERE id IN (?"+
		strings.Repeat(", ?", len(ids)-1)+")", args, func(r scanner) error {
		d, err := scanDevice(r, false)
		out[d.ID] = d
		return err
	})
	return out, err
}
