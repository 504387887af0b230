-- Machines a sync skipped (see migrations/0015_sync_runs_unreadable.sql).
ALTER TABLE sync_runs ADD COLUMN unreadable BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN note TEXT NOT NULL DEFAULT '';
