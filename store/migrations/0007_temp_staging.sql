-- Staging moved to a TEMP table of the writer connection (see stagingDDL in
-- devices.go): it lives in memory, costs no WAL writes and cannot outlive
-- the process. The table on disk is no longer used.
DROP TABLE staged_devices;
