-- Machines a sync skipped because they could not be read (an unexpected
-- value type, say), and a note on the run in plain words ("3 machines
-- could not be read: …"): a successful run can still have something to say.
ALTER TABLE sync_runs ADD COLUMN unreadable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN note TEXT NOT NULL DEFAULT '';
