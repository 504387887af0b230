-- Signed events (issue 14, C). An endpoint is a receiver an admin added:
-- its URL, the event types it wants (a JSON array of names) and its
-- signing secret, sealed (pst:v1:…) like the integration's, with the row id
-- in its associated data.
CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,       -- ep_…, made by Postern
    url         TEXT NOT NULL,
    event_types TEXT NOT NULL,          -- JSON array
    secret      TEXT NOT NULL,          -- sealed whsec_… value
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    rotated_at  TEXT NOT NULL
) WITHOUT ROWID;

-- The outbox: one row per event and endpoint, written in the transaction
-- of the change that caused the event, and delivered from here by the
-- worker until the receiver answers 2xx or the retries run out. A
-- redelivery sends the same event_id and body again.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    event_id        TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending', -- pending, delivered, failed
    last_code       INTEGER NOT NULL DEFAULT 0,
    last_latency_ms INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    finished_at     TEXT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(status, next_attempt_at);

-- Every attempt, for the Webhooks page; bounded by the store (the newest
-- few thousand are kept).
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES webhook_outbox(id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    at          TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    code        INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    error       TEXT NOT NULL,
    ok          INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_outbox ON webhook_deliveries(outbox_id);
