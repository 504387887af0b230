-- Every index on devices is rebuilt or updated by each sync that adds or
-- changes devices. Since the whole machine moved to device_raw, a devices
-- row is small enough that the list's covering index answers a risk filter
-- by itself (about 30 ms at 100,000 devices), and the list never sorts by
-- devices_last_seen (it reads devices_list). Dropping both takes about
-- 0.7 s off a first sync of 100,000 machines.
DROP INDEX devices_list_risk;
DROP INDEX devices_last_seen;
