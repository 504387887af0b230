-- Admins as a team: each admin has a role (existing admins become owners)
-- and may be disabled; the audit log names the actor's role beside the
-- actor (empty for entries written before roles).
ALTER TABLE admins ADD COLUMN role TEXT NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'editor', 'auditor'));
ALTER TABLE admins ADD COLUMN disabled_at TEXT;
ALTER TABLE admins ADD COLUMN last_sign_in_at TEXT;
ALTER TABLE audit_log ADD COLUMN actor_role TEXT NOT NULL DEFAULT '';
