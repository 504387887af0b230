-- Device posture checks. spec holds the conditions as JSON (posture.Spec).
CREATE TABLE posture_checks (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description      TEXT NOT NULL DEFAULT '',
    data_source      TEXT NOT NULL CHECK (data_source IN ('defender', 'device_report')),
    mode             TEXT NOT NULL CHECK (mode IN ('enforce', 'monitor')),
    enabled          INTEGER NOT NULL DEFAULT 1,
    when_unavailable TEXT NOT NULL CHECK (when_unavailable IN ('deny', 'allow')),
    spec             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    updated_by       TEXT NOT NULL
);

-- Exceptions turn a device's failure into a pass until they expire. A NULL
-- check_id covers every check.
CREATE TABLE posture_exceptions (
    id         INTEGER PRIMARY KEY,
    device_id  TEXT NOT NULL,
    check_id   INTEGER REFERENCES posture_checks(id) ON DELETE CASCADE,
    reason     TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE INDEX posture_exceptions_device ON posture_exceptions(device_id);

-- Every change of a device's verdict, per check and overall (check_id NULL).
CREATE TABLE posture_history (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL,
    check_id    INTEGER,
    check_name  TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL,
    from_result TEXT NOT NULL,
    to_result   TEXT NOT NULL,
    reasons     TEXT NOT NULL DEFAULT '[]',
    signal      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX posture_history_device ON posture_history(device_id, id);
CREATE INDEX posture_history_at ON posture_history(id DESC);
