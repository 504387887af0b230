-- The host name filter is a case-insensitive LIKE prefix, which SQLite
-- answers from an index only when the column itself is declared NOCASE:
-- decisions_host never served it, and each write paid for it. The filter
-- rides the time index, over at most the retention's days.
DROP INDEX decisions_host;
