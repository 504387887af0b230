-- PostgreSQL translation of migrations/0028_replica_keys.sql: the master
-- key ids each replica holds (key ids only, space-separated), refreshed
-- at least every minute.
CREATE TABLE replica_keys (
    replica    TEXT PRIMARY KEY,
    active_key TEXT NOT NULL,
    key_ids    TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);
