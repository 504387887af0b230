-- Sign in with Microsoft (docs/admins.md#sign-in-with-microsoft): an admin
-- signed in through Entra ID is keyed by the token's tenant (tid) and object
-- id (oid), never by the email claim; sso_sign_in_at is their last sign-in
-- that way (local sign-in can be turned off only once an Owner has one).
ALTER TABLE admins ADD COLUMN entra_tenant_id TEXT;
ALTER TABLE admins ADD COLUMN entra_object_id TEXT;
ALTER TABLE admins ADD COLUMN sso_sign_in_at TEXT;
CREATE UNIQUE INDEX admins_entra_identity ON admins(entra_tenant_id, entra_object_id)
    WHERE entra_object_id IS NOT NULL;

-- The one sign-in provider, keyed by its name ('entra'). The client secret is
-- sealed (pst:v1:…) with the row name in its associated data; role_map is
-- JSON: {"app_roles": {"value": "owner"}, "groups": {"object id": "editor"}}.
CREATE TABLE sign_in_providers (
    name           TEXT PRIMARY KEY CHECK (name = 'entra'),
    tenant_id      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    client_secret  TEXT NOT NULL,
    cloud          TEXT NOT NULL,
    role_map       TEXT NOT NULL DEFAULT '{}',
    auto_provision INTEGER NOT NULL DEFAULT 0,
    local_sign_in  INTEGER NOT NULL DEFAULT 1,
    configured_by  TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1
);
