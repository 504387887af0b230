-- PostgreSQL translation of migrations/0033_decision_device_index.sql: the
-- decision log's device index, built a minute at a time from the device
-- keys of the recent entries.
CREATE TABLE decision_devices_recent (
    decision_id BIGINT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE TABLE decision_devices (
    device_id   TEXT NOT NULL,
    at          TEXT NOT NULL,
    decision_id BIGINT NOT NULL,
    PRIMARY KEY (device_id, at, decision_id)
);
INSERT INTO decision_devices (device_id, at, decision_id)
    SELECT device_id, at, id FROM decisions WHERE device_id <> '';
DROP INDEX decisions_device;
