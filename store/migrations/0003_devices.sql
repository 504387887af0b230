-- Devices synced from Microsoft Defender. Columns hold what filters, sorting
-- and posture evaluation need; the whole machine as received lives in
-- device_raw, so these rows stay small and fast to write and scan. Rows are
-- never deleted: a device missing from two consecutive successful syncs
-- gets removed_at.
CREATE TABLE devices (
    id                 TEXT PRIMARY KEY NOT NULL,
    host               TEXT NOT NULL,          -- computerDnsName as received
    host_lower         TEXT NOT NULL,          -- for search, sorting and matching
    aad_device_id      TEXT,
    os_platform        TEXT NOT NULL,
    os_version         TEXT,
    os_build           INTEGER,
    health_status      TEXT NOT NULL,
    risk_score         TEXT,
    exposure_level     TEXT,
    onboarding_status  TEXT NOT NULL,
    av_status          TEXT,
    is_aad_joined      INTEGER NOT NULL,
    merged_into        TEXT,
    potential_duplicate INTEGER NOT NULL,
    first_seen         TEXT,
    last_seen          TEXT,
    last_ip            TEXT,
    tags               TEXT NOT NULL,          -- JSON array
    content_hash       BLOB NOT NULL,
    first_synced_at    TEXT NOT NULL,
    changed_at         TEXT NOT NULL,
    changed_run_id     INTEGER NOT NULL,
    missed_runs        INTEGER NOT NULL DEFAULT 0,
    removed_at         TEXT
);
CREATE INDEX devices_host ON devices(host_lower);
CREATE INDEX devices_aad ON devices(aad_device_id) WHERE aad_device_id IS NOT NULL;
CREATE INDEX devices_last_seen ON devices(last_seen);
CREATE INDEX devices_changed_run ON devices(changed_run_id);

-- The whole machine as received (re-encoded JSON), for the detail page.
CREATE TABLE device_raw (
    id  TEXT PRIMARY KEY NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    raw BLOB NOT NULL
);

-- One row per (device, tag) for the tag filter.
CREATE TABLE device_tags (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    tag       TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (tag, device_id)
) WITHOUT ROWID;
CREATE INDEX device_tags_device ON device_tags(device_id);

-- Pages of the sync in progress. Cleared when a run starts; applied to
-- devices in one transaction only when the whole listing arrived.
CREATE TABLE staged_devices (
    run_id INTEGER NOT NULL,
    id     TEXT NOT NULL,
    host   TEXT NOT NULL,
    host_lower TEXT NOT NULL,
    aad_device_id TEXT,
    os_platform TEXT NOT NULL,
    os_version TEXT,
    os_build INTEGER,
    health_status TEXT NOT NULL,
    risk_score TEXT,
    exposure_level TEXT,
    onboarding_status TEXT NOT NULL,
    av_status TEXT,
    is_aad_joined INTEGER NOT NULL,
    merged_into TEXT,
    potential_duplicate INTEGER NOT NULL,
    first_seen TEXT,
    last_seen TEXT,
    last_ip TEXT,
    tags TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    raw BLOB NOT NULL
);
CREATE UNIQUE INDEX staged_devices_run_id ON staged_devices(run_id, id);

-- Every sync run, for the Sync runs page, the card and the audit trail.
CREATE TABLE sync_runs (
    id              INTEGER PRIMARY KEY,
    integration     TEXT NOT NULL,
    trigger         TEXT NOT NULL,             -- schedule, manual, configured, enabled, startup
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failed', 'cancelled', 'interrupted')),
    pages           INTEGER NOT NULL DEFAULT 0,
    seen            INTEGER NOT NULL DEFAULT 0,
    added           INTEGER NOT NULL DEFAULT 0,
    changed         INTEGER NOT NULL DEFAULT 0,
    removed         INTEGER NOT NULL DEFAULT 0,
    throttled_waits INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    error_code      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sync_runs_outcome ON sync_runs(integration, outcome, id);
