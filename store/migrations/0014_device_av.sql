-- Richer Defender signals (issue 13 E).
-- agentVersion and deviceValue of each machine, for the Sensor version and
-- Device value conditions.
ALTER TABLE devices ADD COLUMN agent_version TEXT;
ALTER TABLE devices ADD COLUMN device_value TEXT;

-- Defender's antivirus health report (GET /api/deviceavinfo): the latest row
-- per machine id, joined to devices by id. A sync writes only the rows whose
-- content_hash changed, and deletes those of machines the report no longer
-- lists. Times are RFC 3339 text like every other table.
CREATE TABLE device_av (
    machine_id            TEXT PRIMARY KEY NOT NULL,
    av_mode               TEXT NOT NULL,     -- "0" Active … "5" PassiveAudit, "" Other
    signature_version     TEXT NOT NULL,
    signature_up_to_date  TEXT NOT NULL,     -- "True", "False", "Unknown" or ""
    signature_published_at TEXT,
    engine_version        TEXT NOT NULL,
    engine_up_to_date     TEXT NOT NULL,
    platform_version      TEXT NOT NULL,
    platform_up_to_date   TEXT NOT NULL,
    quick_scan_at         TEXT,
    quick_scan_result     TEXT NOT NULL,
    full_scan_at          TEXT,
    full_scan_result      TEXT NOT NULL,
    refreshed_at          TEXT,              -- dataRefreshTimestamp
    content_hash          INTEGER NOT NULL,
    changed_run_id        INTEGER NOT NULL
) WITHOUT ROWID;

-- What each sync run got from the report: fetched or not, and why not.
CREATE TABLE sync_run_av (
    run_id     INTEGER PRIMARY KEY NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    ok         INTEGER NOT NULL,
    machines   INTEGER NOT NULL,
    written    INTEGER NOT NULL,
    error      TEXT NOT NULL,
    error_code TEXT NOT NULL
);
