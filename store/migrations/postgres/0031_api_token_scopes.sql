-- PostgreSQL translation of migrations/0031_api_token_scopes.sql: API
-- token scopes (existing tokens get evaluate and metrics) and expiry.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'evaluate metrics' CHECK (scopes <> '');
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
