-- Covering indexes for the device list (Store.DevicePage). Each devices row
-- holds the whole machine (raw) and spills into an overflow page, with
-- removed_at stored after raw, so a query that tests rows one by one reads
-- an overflow page per device: over a second per page at 100,000 devices.
-- These indexes hold every column the list filters and sorts on, so counts
-- and pages come from them and only the rows shown are read. About 14 MB
-- each at 100,000 devices.

-- Active devices (removed_at IS NULL leads) in host-name order: the default
-- page, and every filter without a better index.
CREATE INDEX devices_list ON devices(removed_at, host_lower, health_status, risk_score, exposure_level,
    onboarding_status, os_platform, last_seen);

-- A risk score filter reads only the devices with that score.
CREATE INDEX devices_list_risk ON devices(risk_score, removed_at, health_status, exposure_level,
    onboarding_status, os_platform, host_lower, last_seen);
