-- Defender's exclusion flag and reason (an excluded machine's exposure
-- level is no longer kept up to date, so exposure conditions answer
-- unknown) and its device group (rbacGroupName, for the Device group
-- condition). The staging table copies these columns (stagingDDL).
ALTER TABLE devices ADD COLUMN is_excluded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN exclusion_reason TEXT;
ALTER TABLE devices ADD COLUMN rbac_group TEXT;

-- The Devices page counts the devices Defender protects as the active ones
-- less the discovered ones (Store.DevicePage): this index answers the
-- second count with a few seeks instead of a scan of the list's index.
CREATE INDEX devices_kind ON devices(removed_at, onboarding_status);
