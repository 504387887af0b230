-- See migrations/0023_webhook_outbox_per_endpoint.sql.
CREATE INDEX webhook_outbox_endpoint_due ON webhook_outbox(endpoint_id, status, next_attempt_at);
