package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"postern/internal/audit"
	"postern/internal/defender/vocab"
	"postern/internal/model"
)

// deviceSorts maps sort keys to ORDER BY terms. Enum orders follow
// Defender's scales (vocab), not the alphabet.
var deviceSorts = map[string]string{
	"host":      "host_lower",
	"last_seen": "last_seen",
	"health":    "health_status",
	"platform":  "os_platform",
	"risk":      scaleRank("risk_score", vocab.Risk),
	"exposure":  scaleRank("exposure_level", vocab.Exposure),
}

// scaleRank is col's position on e's scale, best first from 0, as a CASE
// of literals (so the sort needs no join); other values and NULL rank -1.
func scaleRank(col string, e *vocab.Enum) string {
	var b strings.Builder
	b.WriteString("CASE " + col)
	for i, name := range e.Names() {
		b.WriteString(" WHEN '" + strings.ReplaceAll(name, "'", "''") + "' THEN " + strconv.Itoa(i))
	}
	b.WriteString(" ELSE -1 END")
	return b.String()
}

// discoveredSQL lists vocab.DiscoveredStatuses as an SQL set, in every
// casing Defender uses (docs and JSON differ): a plain IN over the
// covering index's column, no function call per row.
var discoveredSQL = func() string {
	var vals []string
	for _, d := range vocab.DiscoveredStatuses {
		vals = append(vals, "'"+d+"'", "'"+strings.ToLower(d)+"'")
	}
	return "(" + strings.Join(vals, ", ") + ")"
}()

func (s *Store) deviceWhere(f model.DeviceFilter) (string, []any) {
	var conds []string
	var args []any
	if q := strings.ToLower(strings.TrimSpace(f.Search)); q != "" {
		if identifierShaped(q) {
			conds = append(conds, "(id = ? OR aad_device_id = ?)")
			args = append(args, q, q)
		} else {
			conds = append(conds, "("+s.eng.contains("host_lower")+" OR id = ? OR aad_device_id = ?)")
			args = append(args, q, q, q)
		}
	}
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	eq("health_status", f.Health)
	if f.Risk == "none" {
		conds = append(conds, "risk_score IS NULL")
	} else {
		eq("risk_score", f.Risk)
	}
	eq("exposure_level", f.Exposure)
	eq("onboarding_status", f.Onboarding)
	eq("os_platform", f.Platform)
	switch f.Kind {
	case model.DeviceKindProtected:
		conds = append(conds, "onboarding_status NOT IN "+discoveredSQL)
	case model.DeviceKindDiscovered:
		conds = append(conds, "onboarding_status IN "+discoveredSQL)
	}
	if f.Tag != "" {
		conds = append(conds, "id IN (SELECT device_id FROM device_tags WHERE tag = ?)")
		args = append(args, f.Tag)
	}
	switch f.Removed {
	case "only":
		conds = append(conds, "removed_at IS NOT NULL")
	case "all":
	default:
		conds = append(conds, "removed_at IS NULL")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// listColumns leave out raw: lists never need the whole machine.
const listColumns = `id, host, aad_device_id, os_platform, os_version, os_build, health_status, risk_score,
	exposure_level, onboarding_status, av_status, is_aad_joined, merged_into, potential_duplicate, first_seen,
	last_seen, last_ip, tags, content_hash, first_synced_at, changed_at, changed_run_id, missed_runs, removed_at,
	agent_version, device_value, is_excluded, exclusion_reason, rbac_group`

// Device returns one device with its raw machine, or NotFound.
func (s *Store) Device(ctx context.Context, id string) (model.Device, error) {
	row := s.read.QueryRowContext(ctx, "SELECT "+prefixed("d.", listColumns)+", COALESCE(r.raw, "+s.eng.emptyBlob+") FROM devices d LEFT JOIN device_raw r ON r.id = d.id WHERE d.id = ?", id)
	d, err := scanDevice(row, true)
	return d, mapErr(err, "Device")
}

// CountDevices is the number of device rows, removed ones included.
func (s *Store) CountDevices(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices").Scan(&n)
	return n, mapErr(err, "Devices")
}

// EachDevice calls fn for every device, removed ones included, without raw
// (building the in-memory snapshot).
func (s *Store) EachDevice(ctx context.Context, fn func(model.Device) error) error {
	return eachRow(ctx, s.read, "Devices", "SELECT "+listColumns+" FROM devices ORDER BY id", nil, func(r scanner) error {
		d, err := scanDevice(r, false)
		if err != nil {
			return err
		}
		return fn(d)
	})
}

func scanDevice(r scanner, withRaw bool) (model.Device, error) {
	var d model.Device
	var firstSeen, lastSeen, removed sql.NullString
	var tags, firstSynced, changed string
	dest := []any{&d.ID, &d.Host, &d.AADDeviceID, &d.OSPlatform, &d.OSVersion, &d.OSBuild, &d.HealthStatus,
		&d.RiskScore, &d.ExposureLevel, &d.OnboardingStatus, &d.AVStatus, &d.IsAADJoined, &d.MergedInto,
		&d.PotentialDuplicate, &firstSeen, &lastSeen, &d.LastIP, &tags, &d.ContentHash, &firstSynced, &changed,
		&d.ChangedRunID, &d.MissedRuns, &removed, &d.AgentVersion, &d.DeviceValue, &d.IsExcluded, &d.ExclusionReason,
		&d.RBACGroup}
	if withRaw {
		dest = append(dest, &d.Raw)
	}
	if err := r.Scan(dest...); err != nil {
		return d, err
	}
	var err error
	if withRaw && len(d.Raw) > 0 {
		if d.Raw, err = unpackRaw(d.Raw); err != nil {
			return d, err
		}
	}
	if d.FirstSeen, err = nullTime(firstSeen); err != nil {
		return d, err
	}
	if d.LastSeen, err = nullTime(lastSeen); err != nil {
		return d, err
	}
	if d.RemovedAt, err = nullTime(removed); err != nil {
		return d, err
	}
	if d.FirstSyncedAt, err = parseTime(firstSynced); err != nil {
		return d, err
	}
	if d.ChangedAt, err = parseTime(changed); err != nil {
		return d, err
	}
	return d, json.Unmarshal([]byte(tags), &d.Tags)
}

func nullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// UpdateDevice replaces one device's data after a re-check, keeping its
// sync bookkeeping; it reports whether the content changed.
func (s *Store) UpdateDevice(ctx context.Context, d model.Device, entry audit.Entry) (bool, error) {
	var changed bool
	err := s.changeTx(ctx, model.ChangeSnapshot, func(tx *sql.Tx) error {
		var old []byte
		if err := tx.QueryRowContext(ctx, "SELECT content_hash FROM devices WHERE id = ?", d.ID).Scan(&old); err != nil {
			return err
		}
		changed = string(old) != string(d.ContentHash)
		if changed {
			args, err := deviceArgs(d)
			if err != nil {
				return err
			}
			now := formatTime(s.now())
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET (`+deviceColumns+`, changed_at) =
				(?`+strings.Repeat(", ?", len(deviceColumnNames))+`) WHERE id = ?`,
				append(args, now, d.ID)...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO device_raw (id, raw) VALUES (?, ?)
				ON CONFLICT (id) DO UPDATE SET raw = excluded.raw`, d.ID, packRaw(d.Raw)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM device_tags WHERE device_id = ?", d.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.insertTags("d.id = ?"), d.ID); err != nil {
				return err
			}
		}
		return appendAuditTx(ctx, tx, entry, s.now())
	})
	return changed, mapErr(err, "model.Device")
}

// prefixed qualifies each column of a comma-separated list with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
