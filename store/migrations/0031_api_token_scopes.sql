-- API token scopes and expiry (docs/api.md#token-scopes). scopes is a
-- space-separated list of evaluate, metrics and read; a token made before
-- scopes keeps what it could do: evaluate and metrics. expires_at is when
-- the token stops working (NULL: never).
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'evaluate metrics' CHECK (scopes <> '');
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
