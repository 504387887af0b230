-- Defender's exclusion flag and reason and the device group (see
-- migrations/0016_devices_exclusion_group.sql), on devices and staging.
ALTER TABLE devices ADD COLUMN is_excluded BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE devices ADD COLUMN exclusion_reason TEXT;
ALTER TABLE devices ADD COLUMN rbac_group TEXT;
ALTER TABLE staged_devices ADD COLUMN is_excluded BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE staged_devices ADD COLUMN exclusion_reason TEXT;
ALTER TABLE staged_devices ADD COLUMN rbac_group TEXT;

CREATE INDEX devices_kind ON devices(removed_at, onboarding_status);
