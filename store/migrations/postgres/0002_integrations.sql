-- One row per integration, keyed by its name ('defender'). The client secret
-- is sealed (pst:v1:…) with the row name in its associated data.
CREATE TABLE integrations (
    name              TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    client_secret     TEXT NOT NULL,
    secret_expires_on TEXT,            -- YYYY-MM-DD, optional
    cloud             TEXT NOT NULL,
    region            TEXT NOT NULL,
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    last_error        TEXT NOT NULL DEFAULT '',
    last_error_code   TEXT NOT NULL DEFAULT '',
    last_error_at     TEXT,
    configured_by     TEXT NOT NULL,
    configured_at     TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    version           BIGINT NOT NULL DEFAULT 1  -- bumped by every write; detects lost updates
);
