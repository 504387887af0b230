-- The Devices page lists the platforms present for its filter with one
-- index seek per platform (Store.DeviceFilterValues). Without an index that
-- starts with os_platform, each seek scanned every device: about 140 ms per
-- page at 100,000 devices.
CREATE INDEX devices_platform ON devices(os_platform);
