-- Every device's verdicts as last recorded (issue 14: a verdict change is
-- never lost). The policy engine writes it in the transaction of the
-- changes it records and compares its first pass after a start with it,
-- so that a change made while Postern was stopped, or whose recompute a
-- crash cut short, is recorded and sent once. data is the engine's own
-- packed encoding (base64 of gzip): one row.
CREATE TABLE posture_baseline (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    at     TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    stale  INTEGER NOT NULL,
    data   TEXT NOT NULL
);

-- Causes named by their owners (a check saved, an exception added or
-- revoked, the integration enabled or disabled) until the pass that files
-- their changes deletes them, in its transaction: a restart in between
-- still names the change's cause.
CREATE TABLE posture_pending_causes (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    ref       TEXT NOT NULL,
    label     TEXT NOT NULL,
    actor     TEXT NOT NULL,
    at        TEXT NOT NULL,
    check_id  INTEGER NOT NULL DEFAULT 0,
    device_id TEXT NOT NULL DEFAULT ''
);
