-- Passkeys (WebAuthn credentials) as a second factor for local accounts.
-- passkey_handle is the admin's WebAuthn user handle: 32 random bytes made
-- at their first passkey, the same for every passkey of theirs, never shown.
ALTER TABLE admins ADD COLUMN passkey_handle BLOB;

-- One row per passkey. credential is the go-webauthn Credential record as
-- JSON (public key, sign count, clone warning, flags, transports): nothing
-- secret, the private key never leaves the authenticator. rp_id is the
-- relying party it was made for (the console's host name): a passkey is
-- offered only where the console is reached by that name. last_challenge
-- is the SHA-256 of the challenge it last signed: the update that records
-- a sign-in refuses the same challenge twice.
CREATE TABLE admin_passkeys (
    id             INTEGER PRIMARY KEY,
    admin_id       INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    rp_id          TEXT NOT NULL,
    credential_id  BLOB NOT NULL,
    credential     TEXT NOT NULL,
    last_challenge BLOB,
    created_at     TEXT NOT NULL,
    last_used_at   TEXT,
    UNIQUE (rp_id, credential_id)
);
CREATE INDEX admin_passkeys_admin ON admin_passkeys (admin_id);
