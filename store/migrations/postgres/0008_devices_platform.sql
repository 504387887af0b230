-- The Devices page lists the platforms present (Store.DeviceFilterValues).
CREATE INDEX devices_platform ON devices(os_platform);
