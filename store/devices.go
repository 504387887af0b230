package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// The staging table holds the pages of the run in progress until the apply.
// It is a TEMP table of the one writer connection: with temp_store=MEMORY it
// lives in memory, so staging costs no WAL writes and no page cache of the
// database, and a crash or restart leaves nothing behind. Every statement
// that touches it runs on the writer inside WithTx, and creates it first.
// Should database/sql ever replace the writer connection in the middle of a
// run, the apply finds fewer (or no) staged rows than were fetched and the
// run fails without changing anything.
const stagingDDL = `CREATE TEMP TABLE IF NOT EXISTS staged_devices (
    run_id INTEGER NOT NULL,
    id     TEXT NOT NULL,
    host   TEXT NOT NULL,
    host_lower TEXT NOT NULL,
    aad_device_id TEXT,
    os_platform TEXT NOT NULL,
    os_version TEXT,
    os_build INTEGER,
    health_status TEXT NOT NULL,
    risk_score TEXT,
    exposure_level TEXT,
    onboarding_status TEXT NOT NULL,
    av_status TEXT,
    is_aad_joined INTEGER NOT NULL,
    merged_into TEXT,
    potential_duplicate INTEGER NOT NULL,
    first_seen TEXT,
    last_seen TEXT,
    last_ip TEXT,
    tags TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    raw BLOB NOT NULL,
    UNIQUE (run_id, id)
)`

func stagingTx(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, stagingDDL)
	return err
}

// ClearStaging drops pages left by an abandoned run.
func (s *Store) ClearStaging(ctx context.Context) error {
	return mapErr(s.WithTx(ctx, func(tx *sql.Tx) error {
		if err := stagingTx(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM staged_devices")
		return err
	}), "Staging")
}

// StagedCount is the number of staged rows, of any run.
func (s *Store) StagedCount(ctx context.Context) (int, error) {
	var n int
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if err := stagingTx(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM staged_devices").Scan(&n)
	})
	return n, mapErr(err, "Staging")
}

// StageDevices writes one page of a run in its own transaction. Staging a
// device twice in a run keeps the later copy.
func (s *Store) StageDevices(ctx context.Context, runID int64, page []Device) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if err := stagingTx(ctx, tx); err != nil {
			return err
		}
		var stmts [stageBatch + 1]*sql.Stmt // by rows per statement
		defer func() {
			for _, st := range stmts {
				if st != nil {
					st.Close()
				}
			}
		}()
		raws := make([][]byte, stageBatch) // reused: the driver copies what it binds
		args := make([]any, 0, stageBatch*stagedColumns)
		for batch := range slices.Chunk(page, stageBatch) {
			st := stmts[len(batch)]
			if st == nil {
				var err error
				if st, err = tx.PrepareContext(ctx, stageInsert(len(batch))); err != nil {
					return err
				}
				stmts[len(batch)] = st
			}
			args = args[:0]
			for i, d := range batch {
				cols, err := deviceArgs(d)
				if err != nil {
					return err
				}
				raws[i] = appendPackedRaw(raws[i][:0], d.Raw)
				args = append(append(append(args, runID), cols...), raws[i])
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(err, "Staged devices")
}

// stageBatch is how many devices one INSERT stages: one trip through
// database/sql and the driver per 64 rows instead of per row.
const stageBatch = 64

// stagedColumns is run_id, the device columns and raw.
const stagedColumns = 22

// stageInsert is the INSERT of rows staged devices.
func stageInsert(rows int) string {
	row := "(?" + strings.Repeat(", ?", stagedColumns-1) + ")"
	return "INSERT OR REPLACE INTO staged_devices (run_id, " + deviceColumns + ", raw) VALUES " +
		row + strings.Repeat(", "+row, rows-1)
}

// ApplyResult counts what an apply changed.
type ApplyResult struct {
	Seen, Added, Changed, Removed int
}

// applyTx moves a run's staged devices into devices inside tx: new devices
// are inserted, changed ones (by content hash) updated, devices missing from
// this run count a miss and are marked removed at the second consecutive
// miss. Unchanged rows are not rewritten.
func applyTx(ctx context.Context, tx *sql.Tx, runID int64, staged int, now time.Time) (ApplyResult, error) {
	// What makes an upsert a change; devices.* is the stored row.
	const changed = `(devices.content_hash != excluded.content_hash OR devices.removed_at IS NOT NULL)`
	var r ApplyResult
	ts := formatTime(now)
	q := func(dst *int, query string, args ...any) error {
		return tx.QueryRowContext(ctx, query, args...).Scan(dst)
	}
	// Seen, added (no stored row) and changed (the condition of the upsert
	// below), in one pass over the staged rows.
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE d.id IS NULL),
			COUNT(*) FILTER (WHERE d.content_hash != s.content_hash OR d.removed_at IS NOT NULL)
		FROM staged_devices s LEFT JOIN devices d ON d.id = s.id WHERE s.run_id = ?`, runID).Scan(&r.Seen, &r.Added, &r.Changed); err != nil {
		return r, err
	}
	if r.Seen != staged {
		return r, fmt.Errorf("apply: %d devices staged, %d found: the staging was lost", staged, r.Seen)
	}
	// A run that adds most of the table (a first sync) inserts faster
	// without the secondary indexes: CREATE INDEX afterwards sorts once and
	// writes full pages, instead of updating every index row by row.
	var rebuild func() error
	if r.Added >= bulkMinRows {
		var stored int
		if err := q(&stored, "SELECT COUNT(*) FROM devices"); err != nil {
			return r, err
		}
		if r.Added > stored {
			var err error
			if rebuild, err = dropIndexesTx(ctx, tx, "devices", "device_tags"); err != nil {
				return r, err
			}
		}
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
			content_hash = excluded.content_hash,
			changed_at = CASE WHEN `+changed+` THEN excluded.changed_at ELSE devices.changed_at END,
			changed_run_id = CASE WHEN `+changed+` THEN excluded.changed_run_id ELSE devices.changed_run_id END,
			missed_runs = 0, removed_at = NULL
		WHERE `+changed+` OR devices.missed_runs > 0`,
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
	if rebuild != nil {
		// Tags first: syncTagsTx finds this run's rows by changed_run_id.
		if err := syncTagsTx(ctx, tx, runID); err != nil {
			return r, err
		}
		if err := rebuild(); err != nil {
			return r, err
		}
	}
	// The upsert forgot the miss of a device seen again after one; count a
	// miss for every device not seen. Every staged device is now active, so
	// when there are as many active devices as staged ones, none was missed
	// (the usual case, and every first sync): skip the scan.
	var active int
	if err := q(&active, "SELECT COUNT(*) FROM devices WHERE removed_at IS NULL"); err != nil {
		return r, err
	}
	if active == r.Seen {
		return r, finishApplyTx(ctx, tx, runID, rebuild == nil)
	}
	_, err := tx.ExecContext(ctx, `UPDATE devices SET missed_runs = missed_runs + 1,
			removed_at = CASE WHEN missed_runs + 1 >= 2 THEN ? ELSE NULL END
		WHERE removed_at IS NULL AND id NOT IN (SELECT id FROM staged_devices WHERE run_id = ?)`, ts, runID)
	if err != nil {
		return r, err
	}
	if err := q(&r.Removed, "SELECT COUNT(*) FROM devices WHERE removed_at = ?", ts); err != nil {
		return r, err
	}
	return r, finishApplyTx(ctx, tx, runID, rebuild == nil)
}

// finishApplyTx rewrites the tags of the devices the run changed, unless
// done already, and empties the staging table: one run stages at a time,
// and a DELETE without WHERE drops its pages at once, not row by row.
func finishApplyTx(ctx context.Context, tx *sql.Tx, runID int64, tags bool) error {
	if tags {
		if err := syncTagsTx(ctx, tx, runID); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM staged_devices")
	return err
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
func syncTagsTx(ctx context.Context, tx *sql.Tx, runID int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_tags WHERE device_id IN
		(SELECT id FROM devices WHERE changed_run_id = ?)`, runID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO device_tags (device_id, tag)
		SELECT d.id, j.value FROM devices d, json_each(d.tags) j WHERE d.changed_run_id = ?`, runID)
	return err
}
