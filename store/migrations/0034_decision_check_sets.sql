-- The decision log stores each distinct set of checks and reasons once
-- (docs/decision-log.md). A device is denied again and again for the same
-- checks, and a fleet fails its checks in few ways, yet every entry held
-- its checks as JSON, 1.6 KB with twenty checks: most of what the log
-- wrote, and what kept evaluate's throughput with the log on below nine
-- tenths of it off (BenchmarkEvaluateDecisionLog, docs/performance.md).
--
-- An entry now names its set (checks_set). The writer finds a set in its
-- memory, else here by the SHA-256 of its JSON (digest), adding it when
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
-- The entries are copied once into a table without checks, naming their
-- sets (an UPDATE, then DROP COLUMN, would rewrite each twice), ids kept:
-- the device index names them.
CREATE INDEX decision_check_sets_backfill ON decision_check_sets(checks);
CREATE TABLE decisions_0034 (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    device_id   TEXT NOT NULL DEFAULT '',
    hostname    TEXT NOT NULL DEFAULT '',
    matched_by  TEXT NOT NULL,
    matched_key TEXT NOT NULL DEFAULT '',
    result      TEXT NOT NULL,
    checks_set  INTEGER NOT NULL DEFAULT 0,
    token_id    INTEGER NOT NULL DEFAULT 0,
    source      TEXT NOT NULL DEFAULT ''
);
INSERT INTO decisions_0034 (id, at, device_id, hostname, matched_by, matched_key, result, checks_set, token_id, source)
    SELECT d.id, d.at, d.device_id, d.hostname, d.matched_by, d.matched_key, d.result, s.id, d.token_id, d.source
    FROM decisions d JOIN decision_check_sets s ON s.checks = d.checks ORDER BY d.id;
DROP TABLE decisions;
ALTER TABLE decisions_0034 RENAME TO decisions;
CREATE INDEX decisions_at ON decisions(at);
DROP INDEX decision_check_sets_backfill;
