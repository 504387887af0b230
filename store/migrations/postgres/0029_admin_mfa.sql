-- PostgreSQL translation of migrations/0029_admin_mfa.sql: two-factor
-- authentication for local accounts (the sealed TOTP secret, when it was
-- enrolled, the last accepted time step), hashed recovery codes and the
-- console-wide settings.
ALTER TABLE admins ADD COLUMN mfa_secret TEXT;
ALTER TABLE admins ADD COLUMN mfa_enabled_at TEXT;
ALTER TABLE admins ADD COLUMN mfa_last_step BIGINT NOT NULL DEFAULT 0;

CREATE TABLE admin_recovery_codes (
    admin_id  BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (admin_id, code_hash)
);

CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
