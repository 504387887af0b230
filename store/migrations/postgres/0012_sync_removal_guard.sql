-- The mass-removal guard (see migrations/0012_sync_removal_guard.sql).
-- SQLite rebuilt the table to change its CHECK constraint; PostgreSQL
-- alters it in place.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_outcome_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_outcome_check
    CHECK (outcome IN ('running', 'success', 'failed', 'cancelled', 'interrupted', 'held'));
ALTER TABLE sync_runs ADD COLUMN missing BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN active BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN accepted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_runs ADD COLUMN accepted_at TEXT;

-- The devices a held run did not see: what accepting it marks removed.
-- Only the latest held run's rows are kept.
CREATE TABLE sync_held_missing (
    run_id    BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    PRIMARY KEY (run_id, device_id)
);
