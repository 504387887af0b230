-- The worker reads each endpoint's due events on their own, so that one
-- endpoint's backlog (a dead receiver) never hides another's.
CREATE INDEX webhook_outbox_endpoint_due ON webhook_outbox(endpoint_id, status, next_attempt_at);
