-- The outage grace (see migrations/0011_integration_outage_grace.sql).
ALTER TABLE integrations ADD COLUMN outage_grace_hours BIGINT NOT NULL DEFAULT 4;
