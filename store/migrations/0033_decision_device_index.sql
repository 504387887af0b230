-- The decision log's device index, built a minute at a time
-- (docs/decision-log.md). decisions_device took each batch's entries to as
-- many pages of the index as the batch had devices, up to the whole index,
-- and a transaction writes whole every page it touches: four fifths of the
-- log's write (BenchmarkAppendDecisionsFleet, docs/performance.md).
--
-- A batch now writes its entries' device keys to decision_devices_recent,
-- in id order (pages written once, full), and the decision log's writer
-- moves them, once a minute and sorted, into decision_devices: a minute's
-- keys share each page they touch. The device filter reads both. The
-- retention worker deletes an entry's key before the entry, a run of
-- devices at a time (PruneDecisionIndex): the index never names an entry
-- that is gone, so the device filter counts on it alone. Neither table has
-- a foreign key, whose cascade would delete from the index one key, and
-- one page, at a time.
CREATE TABLE decision_devices_recent (
    decision_id INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE TABLE decision_devices (
    device_id   TEXT NOT NULL,
    at          TEXT NOT NULL,
    decision_id INTEGER NOT NULL,
    PRIMARY KEY (device_id, at, decision_id)
) WITHOUT ROWID;
INSERT INTO decision_devices (device_id, at, decision_id)
    SELECT device_id, at, id FROM decisions WHERE device_id <> '' ORDER BY device_id, at, id;
DROP INDEX decisions_device;
