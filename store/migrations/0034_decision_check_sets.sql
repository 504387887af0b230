-- The decision log stores each distinct set of checks and reasons once
-- (docs/decision-log.md). A device is denied again and again for the same
-- checks, and a fleet fails its checks in few ways, yet every entry held
-- its checks as JSON, 1.6 KB with twenty checks: most of what the log
-- wrote, and what kept evaluate's throughput with the log on below nine
-- tenths of it off (BenchmarkEvaluateDecisionLog, docs/performance.md).
--
-- An entry now names its set (checks_set). The writer finds a set by the
-- SHA-256 of its JSON (digest): in its memory, else here, adding it when
-- new. While it uses a set it moves the set's last_at forward, at most
-- every few minutes, so an entry is never much newer than its set's
-- last_at; the retention worker deletes the sets whose last_at is well
-- before the oldest entry left. AUTOINCREMENT: an id never names a second
-- set.
--
-- The sets of the entries already here are copied without a digest (SQL
-- has no SHA-256 here): no new entry names them, and they go with their
-- entries.
CREATE TABLE decision_check_sets (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    digest  BLOB UNIQUE,
    checks  TEXT NOT NULL,
    last_at TEXT NOT NULL
);
INSERT INTO decision_check_sets (checks, last_at)
    SELECT checks, MAX(at) FROM decisions GROUP BY checks ORDER BY MIN(id);
ALTER TABLE decisions ADD COLUMN checks_set INTEGER NOT NULL DEFAULT 0;
CREATE INDEX decision_check_sets_backfill ON decision_check_sets(checks);
UPDATE decisions SET checks_set = (SELECT s.id FROM decision_check_sets s WHERE s.checks = decisions.checks);
DROP INDEX decision_check_sets_backfill;
ALTER TABLE decisions DROP COLUMN checks;
