-- The master key ids each replica holds (issue 15: rotating the master key
-- across replicas). A replica upserts its row at start, whenever it reads
-- its key file again and at least every minute; postern activate-key
-- refuses while a replica that reported recently lacks the key. Key ids
-- only, never key material. On SQLite, one process, the table stays empty.
CREATE TABLE replica_keys (
    replica    TEXT PRIMARY KEY,
    active_key TEXT NOT NULL,
    key_ids    TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);
