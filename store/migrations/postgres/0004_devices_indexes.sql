-- Covering indexes for the device list (see migrations/0004_devices_indexes.sql).
CREATE INDEX devices_list ON devices(removed_at, host_lower, health_status, risk_score, exposure_level,
    onboarding_status, os_platform, last_seen);
CREATE INDEX devices_list_risk ON devices(risk_score, removed_at, health_status, exposure_level,
    onboarding_status, os_platform, host_lower, last_seen);
