-- Why verdicts changed: one row per cause (an admin action, a sync run, time
-- passing) that changed at least one verdict. audit_id is its one summary
-- entry in the audit log; the verdict changes themselves stay in
-- posture_history, each pointing at its cause.
CREATE TABLE posture_causes (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    ref      TEXT NOT NULL DEFAULT '',
    label    TEXT NOT NULL,
    actor    TEXT NOT NULL DEFAULT '',
    at       TEXT NOT NULL,
    audit_id INTEGER
);
CREATE INDEX posture_causes_audit ON posture_causes(audit_id);
CREATE INDEX posture_causes_kind ON posture_causes(kind, id);

-- NULL for the changes recorded before causes were.
ALTER TABLE posture_history ADD COLUMN cause_id INTEGER REFERENCES posture_causes(id);
CREATE INDEX posture_history_cause ON posture_history(cause_id, id);
-- Retention finds the oldest rows by time.
CREATE INDEX posture_history_time ON posture_history(at);

-- Retention: the audit log stays append-only, except that the pruning
-- transaction may delete rows older than the cutoff it writes here (and
-- removes again before it commits).
CREATE TABLE audit_prune (before TEXT NOT NULL);
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_prune WHERE OLD.at < audit_prune.before)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
