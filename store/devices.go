package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Device is one synced Defender machine: the columns Postern filters and
// evaluates on, plus the whole machine as received (Raw).
type Device struct {
	ID                 string
	Host               string
	AADDeviceID        *string
	OSPlatform         string
	OSVersion          *string
	OSBuild            *int64
	HealthStatus       string
	RiskScore          *string
	ExposureLevel      *string
	OnboardingStatus   string
	AVStatus           *string
	IsAADJoined        bool
	MergedInto         *string
	PotentialDuplicate bool
	FirstSeen          *time.Time
	LastSeen           *time.Time
	LastIP             *string
	Tags               []string
	Raw                []byte
	ContentHash        []byte

	// Provenance, set by the store.
	FirstSyncedAt time.Time
	ChangedAt     time.Time
	ChangedRunID  int64
	MissedRuns    int
	RemovedAt     *time.Time
}

// deviceColumns are shared by devices and staged_devices; staging adds raw.
const deviceColumns = `id, host, host_lower, aad_device_id, os_platform, os_version, os_build, health_status,
	risk_score, exposure_level, onboarding_status, av_status, is_aad_joined, merged_into, potential_duplicate,
	first_seen, last_seen, last_ip, tags, content_hash`

func deviceArgs(d Device) ([]any, error) {
	tags, err := json.Marshal(nonNil(d.Tags))
	if err != nil {
		return nil, err
	}
	return []any{d.ID, d.Host, strings.ToLower(d.Host), d.AADDeviceID, d.OSPlatform, d.OSVersion, d.OSBuild,
		d.HealthStatus, d.RiskScore, d.ExposureLevel, d.OnboardingStatus, d.AVStatus, d.IsAADJoined, d.MergedInto,
		d.PotentialDuplicate, timeOrNil(d.FirstSeen), timeOrNil(d.LastSeen), d.LastIP, string(tags), d.ContentHash}, nil
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

// ClearStaging drops pages left by an interrupted run.
func (s *Store) ClearStaging(ctx context.Context) error {
	return mapErr(s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM staged_devices")
		return err
	}), "Staging")
}

// StageDevices writes one page of a run in its own transaction. Staging a
// device twice in a run keeps the later copy.
func (s *Store) StageDevices(ctx context.Context, runID int64, page []Device) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, "INSERT OR REPLACE INTO staged_devices (run_id, "+deviceColumns+
			", raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, d := range page {
			args, err := deviceArgs(d)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, append(append([]any{runID}, args...), d.Raw)...); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(err, "Staged devices")
}

// ApplyResult counts what an apply changed.
type ApplyResult struct {
	Seen, Added, Changed, Removed int
}

// applyTx moves a run's staged devices into devices inside tx: new devices
// are inserted, changed ones (by content hash) updated, devices missing from
// this run count a miss and are marked removed at the second consecutive
// miss. Unchanged rows are not rewritten.
func applyTx(ctx context.Context, tx *sql.Tx, runID int64, now time.Time) (ApplyResult, error) {
	var r ApplyResult
	ts := formatTime(now)
	q := func(dst *int, query string, args ...any) error {
		return tx.QueryRowContext(ctx, query, args...).Scan(dst)
	}
	if err := q(&r.Seen, "SELECT COUNT(*) FROM staged_devices WHERE run_id = ?", runID); err != nil {
		return r, err
	}
	if err := q(&r.Added, `SELECT COUNT(*) FROM staged_devices s WHERE s.run_id = ?
		AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = s.id)`, runID); err != nil {
		return r, err
	}
	if err := q(&r.Changed, `SELECT COUNT(*) FROM staged_devices s JOIN devices d ON d.id = s.id
		WHERE s.run_id = ? AND (d.content_hash != s.content_hash OR d.removed_at IS NOT NULL)`, runID); err != nil {
		return r, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices (`+deviceColumns+`, first_synced_at, changed_at, changed_run_id, missed_runs, removed_at)
		SELECT `+deviceColumns+`, ?, ?, ?, 0, NULL FROM staged_devices WHERE run_id = ? ORDER BY id
		ON CONFLICT (id) DO UPDATE SET host = excluded.host, host_lower = excluded.host_lower,
			aad_device_id = excluded.aad_device_id, os_platform = excluded.os_platform, os_version = excluded.os_version,
			os_build = excluded.os_build, health_status = excluded.health_status, risk_score = excluded.risk_score,
			exposure_level = excluded.exposure_level, onboarding_status = excluded.onboarding_status,
			av_status = excluded.av_status, is_aad_joined = excluded.is_aad_joined, merged_into = excluded.merged_into,
			potential_duplicate = excluded.potential_duplicate, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, last_ip = excluded.last_ip, tags = excluded.tags,
			content_hash = excluded.content_hash, changed_at = excluded.changed_at,
			changed_run_id = excluded.changed_run_id, missed_runs = 0, removed_at = NULL
		WHERE devices.content_hash != excluded.content_hash OR devices.removed_at IS NOT NULL`,
		ts, ts, runID, runID); err != nil {
		return r, fmt.Errorf("upsert devices: %w", err)
	}
	// The whole machine, for the rows this run added or changed.
	if _, err := tx.ExecContext(ctx, `INSERT INTO device_raw (id, raw)
		SELECT s.id, s.raw FROM staged_devices s JOIN devices d ON d.id = s.id
		WHERE s.run_id = ? AND d.changed_run_id = ? ORDER BY s.id
		ON CONFLICT (id) DO UPDATE SET raw = excluded.raw`, runID, runID); err != nil {
		return r, fmt.Errorf("store raw machines: %w", err)
	}
	// Seen again after a single miss: forget the miss.
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET missed_runs = 0
		WHERE missed_runs > 0 AND removed_at IS NULL AND id IN (SELECT id FROM staged_devices WHERE run_id = ?)`, runID); err != nil {
		return r, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE devices SET missed_runs = missed_runs + 1,
			removed_at = CASE WHEN missed_runs + 1 >= 2 THEN ? ELSE NULL END
		WHERE removed_at IS NULL AND id NOT IN (SELECT id FROM staged_devices WHERE run_id = ?)`, ts, runID)
	if err != nil {
		return r, err
	}
	_ = res
	if err := q(&r.Removed, "SELECT COUNT(*) FROM devices WHERE removed_at = ?", ts); err != nil {
		return r, err
	}
	if err := syncTagsTx(ctx, tx, runID); err != nil {
		return r, err
	}
	_, err = tx.ExecContext(ctx, "DELETE FROM staged_devices WHERE run_id = ?", runID)
	return r, err
}

// syncTagsTx rewrites the tag rows of the devices this run changed.
func syncTagsTx(ctx context.Context, tx *sql.Tx, runID int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_tags WHERE device_id IN
		(SELECT id FROM devices WHERE changed_run_id = ?)`, runID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO device_tags (device_id, tag)
		SELECT d.id, j.value FROM devices d, json_each(d.tags) j WHERE d.changed_run_id = ?`, runID)
	return err
}
