-- Where forward-auth reads a device's identity (see
-- migrations/0020_api_token_identity.sql).
ALTER TABLE api_tokens ADD COLUMN identity_source TEXT NOT NULL DEFAULT 'headers'
    CHECK (identity_source IN ('headers', 'certificate'));
