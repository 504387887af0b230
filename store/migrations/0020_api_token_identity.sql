-- Where forward-auth reads a device's identity for requests that present
-- the token: 'headers' (X-Postern-Device-Id and friends, set by the proxy
-- from something it verified; a forwarded client certificate when none is
-- set) or 'certificate' (the forwarded client certificate only; every
-- X-Postern-* identity header is ignored). Tokens made before had only
-- headers.
ALTER TABLE api_tokens ADD COLUMN identity_source TEXT NOT NULL DEFAULT 'headers'
    CHECK (identity_source IN ('headers', 'certificate'));
