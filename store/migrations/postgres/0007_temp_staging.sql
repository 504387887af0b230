-- SQLite moved staging to a TEMP table of its one writer connection.
-- PostgreSQL serves writes from a pool, and a temporary table lives in one
-- session only, so staging stays in this table, made unlogged: it costs no
-- WAL and a crash empties it, which a run that did not finish wants anyway.
ALTER TABLE staged_devices SET UNLOGGED;
