-- Two-factor authentication for local accounts (TOTP, RFC 6238). The
-- secret is sealed (pst:v1:…) like the integration's, bound to the admin's
-- row id; it is pending while mfa_enabled_at is NULL (shown during
-- enrolment only) and in use once set. mfa_last_step is the last time step
-- a code was accepted for: a code of that step or an earlier one is refused
-- (RFC 6238 §5.2, one use per code).
ALTER TABLE admins ADD COLUMN mfa_secret TEXT;
ALTER TABLE admins ADD COLUMN mfa_enabled_at TEXT;
ALTER TABLE admins ADD COLUMN mfa_last_step INTEGER NOT NULL DEFAULT 0;

-- Recovery codes, stored as SHA-256 hashes (each code carries 80 random
-- bits), each usable once.
CREATE TABLE admin_recovery_codes (
    admin_id  INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (admin_id, code_hash)
) WITHOUT ROWID;

-- Console-wide settings an Owner changes (name → value), such as
-- require_mfa.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
