-- Richer Defender signals (see migrations/0014_device_av.sql). The staging
-- table, a table here (0007), gets the device columns too.
ALTER TABLE devices ADD COLUMN agent_version TEXT;
ALTER TABLE devices ADD COLUMN device_value TEXT;
ALTER TABLE staged_devices ADD COLUMN agent_version TEXT;
ALTER TABLE staged_devices ADD COLUMN device_value TEXT;

CREATE TABLE device_av (
    machine_id            TEXT PRIMARY KEY NOT NULL,
    av_mode               TEXT NOT NULL,
    signature_version     TEXT NOT NULL,
    signature_up_to_date  TEXT NOT NULL,
    signature_published_at TEXT,
    engine_version        TEXT NOT NULL,
    engine_up_to_date     TEXT NOT NULL,
    platform_version      TEXT NOT NULL,
    platform_up_to_date   TEXT NOT NULL,
    quick_scan_at         TEXT,
    quick_scan_result     TEXT NOT NULL,
    full_scan_at          TEXT,
    full_scan_result      TEXT NOT NULL,
    refreshed_at          TEXT,
    content_hash          BIGINT NOT NULL,
    changed_run_id        BIGINT NOT NULL
);

CREATE TABLE sync_run_av (
    run_id     BIGINT PRIMARY KEY NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    ok         BOOLEAN NOT NULL,
    machines   BIGINT NOT NULL,
    written    BIGINT NOT NULL,
    error      TEXT NOT NULL,
    error_code TEXT NOT NULL
);
