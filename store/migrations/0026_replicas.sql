-- Several replicas on one database (issue 15). sync_leader is the one row
-- naming the sync leader's term: the replica that takes the leader lock
-- bumps epoch, and each write the leader makes checks the epoch it was
-- elected with in its own transaction (the fence), so a leader that froze
-- and was replaced cannot commit afterwards. On SQLite there is one
-- process and the table stays empty. Each sync run names the replica
-- that ran it, so the runs table shows that no two leaders overlapped.
CREATE TABLE sync_leader (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    epoch      INTEGER NOT NULL,
    replica    TEXT NOT NULL,
    elected_at TEXT NOT NULL
);
ALTER TABLE sync_runs ADD COLUMN replica TEXT NOT NULL DEFAULT '';
