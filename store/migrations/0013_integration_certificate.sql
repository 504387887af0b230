-- Certificate credentials (issue 13, D2). An integration proves the app's
-- identity either with its client secret or with a certificate: credential
-- says which. certificate is the public PEM (shown to the admin, uploaded in
-- Entra); private_key is its key, sealed (pst:v1:…) like the secret, with
-- the row name in its associated data. Only one credential is stored: a
-- certificate row has an empty client_secret, and a secret row empty
-- certificate columns.
ALTER TABLE integrations ADD COLUMN credential TEXT NOT NULL DEFAULT 'secret';
ALTER TABLE integrations ADD COLUMN certificate TEXT NOT NULL DEFAULT '';
ALTER TABLE integrations ADD COLUMN private_key TEXT NOT NULL DEFAULT '';

-- A certificate Postern generated that the admin has yet to upload in Entra
-- and save: the credential in use stays untouched until the new one is
-- validated with Microsoft. One per integration; saving the integration with
-- this certificate removes it.
CREATE TABLE pending_certificates (
    name        TEXT PRIMARY KEY,  -- the integration it is for
    certificate TEXT NOT NULL,     -- public PEM
    private_key TEXT NOT NULL,     -- sealed
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;
