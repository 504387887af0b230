-- The decision log (issue 14, D): every deny and unknown the enforcement
-- API answered, and a sample of allows, written in batches off the hot
-- path and pruned after the configured retention (default 7 days).
-- checks is a compact JSON array of the checks that did not pass (or
-- passed by an exception) with their reasons; decision_checks indexes
-- the same check ids for the page's check filter.
CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    device_id   TEXT NOT NULL DEFAULT '',   -- Defender machine id, '' when nothing matched
    hostname    TEXT NOT NULL DEFAULT '',
    matched_by  TEXT NOT NULL,
    matched_key TEXT NOT NULL DEFAULT '',
    result      TEXT NOT NULL,              -- denied, unknown, allowed (sampled)
    checks      TEXT NOT NULL DEFAULT '[]',
    token_id    INTEGER NOT NULL DEFAULT 0,
    source      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX decisions_at ON decisions(at);
CREATE INDEX decisions_device ON decisions(device_id, at);
CREATE INDEX decisions_host ON decisions(hostname COLLATE NOCASE, at);
CREATE INDEX decisions_result ON decisions(result, at);
CREATE INDEX decisions_token ON decisions(token_id, at);

CREATE TABLE decision_checks (
    check_id    INTEGER NOT NULL,
    decision_id INTEGER NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
    PRIMARY KEY (check_id, decision_id)
) WITHOUT ROWID;
CREATE INDEX decision_checks_decision ON decision_checks(decision_id);
