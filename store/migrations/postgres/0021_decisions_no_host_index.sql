-- See migrations/0021_decisions_no_host_index.sql.
DROP INDEX decisions_host;
