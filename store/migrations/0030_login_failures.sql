-- The login limiter's failures (issue 15: shared by every replica, so that
-- a second replica buys an attacker no fresh attempts and a lock-out on
-- one is seen on all). One row per counted attempt and key; key_hash is
-- SHA-256 of the limiter's key ("account:" + email, "ip:" + address or
-- IPv6 /64, "mfa:" + admin id) under a fixed prefix, so that no email or
-- address is stored in clear. Rows older than the window are deleted by
-- every counted attempt: the table holds the last fifteen minutes.
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY,
    key_hash BLOB NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key_hash, at);
CREATE INDEX login_failures_at ON login_failures (at);
