-- PostgreSQL translation of migrations/0026_replicas.sql: the sync
-- leader's term (epoch), checked by each of the leader's writes in its own
-- transaction (the fence), and the replica that ran each sync run.
CREATE TABLE sync_leader (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    epoch      BIGINT NOT NULL,
    replica    TEXT NOT NULL,
    elected_at TEXT NOT NULL
);
ALTER TABLE sync_runs ADD COLUMN replica TEXT NOT NULL DEFAULT '';
