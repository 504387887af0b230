-- The outage grace: for how many hours after the data goes stale (no
-- successful sync for 3 intervals) the posture checks keep deciding on the
-- last synced data. 0 treats stale data as unavailable at once.
ALTER TABLE integrations ADD COLUMN outage_grace_hours INTEGER NOT NULL DEFAULT 4;
