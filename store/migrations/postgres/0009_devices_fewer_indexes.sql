-- See migrations/0009_devices_fewer_indexes.sql.
DROP INDEX devices_list_risk;
DROP INDEX devices_last_seen;
