-- Same as migrations/0022_webhook_emitted.sql: the statements are the same on both engines.
-- The condition events (integration.data_stale, integration.secret_expiring)
-- each endpoint was sent, by event id, kept after their outbox rows are
-- pruned (7 days) so that a condition still true is never written again
-- under the same id with another body. One row per condition and
-- endpoint: a handful a year.
CREATE TABLE webhook_emitted (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
INSERT INTO webhook_emitted (endpoint_id, event_id, at)
    SELECT endpoint_id, event_id, created_at FROM webhook_outbox
    WHERE event_type IN ('integration.data_stale', 'integration.secret_expiring');
