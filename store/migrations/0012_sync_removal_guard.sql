-- The mass-removal guard: a sync whose listing would mark more than a share
-- of the active fleet missing is held (outcome 'held'). The run keeps the
-- numbers (missing of active) and, once accepted, who accepted it and when.
-- SQLite cannot change a CHECK constraint, so the table is rebuilt.
CREATE TABLE sync_runs_new (
    id              INTEGER PRIMARY KEY,
    integration     TEXT NOT NULL,
    trigger         TEXT NOT NULL,             -- schedule, manual, configured, enabled, startup
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failed', 'cancelled', 'interrupted', 'held')),
    pages           INTEGER NOT NULL DEFAULT 0,
    seen            INTEGER NOT NULL DEFAULT 0,
    added           INTEGER NOT NULL DEFAULT 0,
    changed         INTEGER NOT NULL DEFAULT 0,
    removed         INTEGER NOT NULL DEFAULT 0,
    throttled_waits INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    error_code      TEXT NOT NULL DEFAULT '',
    missing         INTEGER NOT NULL DEFAULT 0,
    active          INTEGER NOT NULL DEFAULT 0,
    accepted_by     TEXT NOT NULL DEFAULT '',
    accepted_at     TEXT
);
INSERT INTO sync_runs_new (id, integration, trigger, started_at, finished_at, outcome, pages, seen, added, changed,
    removed, throttled_waits, error, error_code)
SELECT id, integration, trigger, started_at, finished_at, outcome, pages, seen, added, changed,
    removed, throttled_waits, error, error_code FROM sync_runs;
DROP TABLE sync_runs;
ALTER TABLE sync_runs_new RENAME TO sync_runs;
CREATE INDEX sync_runs_outcome ON sync_runs(integration, outcome, id);

-- The devices a held run did not see: what accepting it marks removed.
-- Only the latest held run's rows are kept.
CREATE TABLE sync_held_missing (
    run_id    INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    PRIMARY KEY (run_id, device_id)
) WITHOUT ROWID;
