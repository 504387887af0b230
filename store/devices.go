package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"postern/internal/model"
)

// deviceColumns are shared by devices and staged_devices; staging adds raw.
const deviceColumns = `id, host, host_lower, aad_device_id, os_platform, os_version, os_build, health_status,
	risk_score, exposure_level, onboarding_status, av_status, is_aad_joined, merged_into, potential_duplicate,
	first_seen, last_seen, last_ip, tags, content_hash, agent_version, device_value, is_excluded, exclusion_reason,
	rbac_group`

func deviceArgs(d model.Device) ([]any, error) {
	tags, err := json.Marshal(nonNil(d.Tags))
	if err != nil {
		return nil, err
	}
	return []any{d.ID, d.Host, strings.ToLower(d.Host), d.AADDeviceID, d.OSPlatform, d.OSVersion, d.OSBuild,
		d.HealthStatus, d.RiskScore, d.ExposureLevel, d.OnboardingStatus, d.AVStatus, d.IsAADJoined, d.MergedInto,
		d.PotentialDuplicate, timeOrNil(d.FirstSeen), timeOrNil(d.LastSeen), d.LastIP, string(tags), d.ContentHash,
		d.AgentVersion, d.DeviceValue, d.IsExcluded, d.ExclusionReason, d.RBACGroup}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// bulkMinRows is the fewest added rows for which an apply rebuilds the
// indexes rather than updating them.
const bulkMinRows = 5000

// dropIndexesTx drops the indexes of tables that a migration created (the
// primary keys stay) and returns the function that creates them again, from
// the very statements that created them.
func dropIndexesTx(ctx context.Context, tx *sql.Tx, tables ...string) (func() error, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema
		WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (?`+strings.Repeat(", ?", len(tables)-1)+`)
		ORDER BY name`, anySlice(tables)...)
	if err != nil {
		return nil, err
	}
	var names, creates []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			rows.Close()
			return nil, err
		}
		names, creates = append(names, name), append(creates, create)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	return func() error {
		for i, create := range creates {
			if _, err := tx.ExecContext(ctx, create); err != nil {
				return fmt.Errorf("rebuild index %s: %w", names[i], err)
			}
		}
		return nil
	}, nil
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// syncTagsTx rewrites the tag rows of the devices this run changed.
func (s *Store) syncTagsTx(ctx context.Context, tx *sql.Tx, runID int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_tags WHERE device_id IN
		(SELECT id FROM devices WHERE changed_run_id = ?)`, runID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.insertTags("d.changed_run_id = ?"), runID)
	return err
}

// insertTags is the INSERT of a tag row for each tag of the devices d that
// cond selects; a tag repeated in another case is one row (the column is
// NOCASE).
func (s *Store) insertTags(cond string) string {
	return s.eng.insertIgnore + ` device_tags (device_id, tag)
		SELECT d.id, j.value FROM devices d, ` + s.eng.jsonValues("d.tags", "j") + ` WHERE ` + cond + s.eng.ignoreSuffix
}
