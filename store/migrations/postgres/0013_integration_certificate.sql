-- Certificate credentials (see migrations/0013_integration_certificate.sql).
ALTER TABLE integrations ADD COLUMN credential TEXT NOT NULL DEFAULT 'secret';
ALTER TABLE integrations ADD COLUMN certificate TEXT NOT NULL DEFAULT '';
ALTER TABLE integrations ADD COLUMN private_key TEXT NOT NULL DEFAULT '';

CREATE TABLE pending_certificates (
    name        TEXT PRIMARY KEY,  -- the integration it is for
    certificate TEXT NOT NULL,     -- public PEM
    private_key TEXT NOT NULL,     -- sealed
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
