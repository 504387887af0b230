-- PostgreSQL translation of migrations/0027_sign_in_microsoft.sql: admins
-- signed in through Entra ID are keyed by (tid, oid); the one sign-in
-- provider ('entra') with its sealed client secret and role mapping.
ALTER TABLE admins ADD COLUMN entra_tenant_id TEXT;
ALTER TABLE admins ADD COLUMN entra_object_id TEXT;
ALTER TABLE admins ADD COLUMN sso_sign_in_at TEXT;
CREATE UNIQUE INDEX admins_entra_identity ON admins(entra_tenant_id, entra_object_id)
    WHERE entra_object_id IS NOT NULL;

CREATE TABLE sign_in_providers (
    name           TEXT PRIMARY KEY CHECK (name = 'entra'),
    tenant_id      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    client_secret  TEXT NOT NULL,
    cloud          TEXT NOT NULL,
    role_map       TEXT NOT NULL DEFAULT '{}',
    auto_provision BOOLEAN NOT NULL DEFAULT FALSE,
    local_sign_in  BOOLEAN NOT NULL DEFAULT TRUE,
    configured_by  TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1
);
