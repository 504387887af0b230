-- The decision log costs evaluate at most 10 % of its throughput (issue
-- 14's target, measured by BenchmarkEvaluateDecisionLog): its writes share
-- the CPUs with the requests. A check index row per failed check and the
-- indexes on result and token more than doubled the cost of a write, so
-- they go: the check filter reads the checks column (JSON) and the result
-- and token filters ride the time index, over at most the retention's days.
-- Device, host name and time stay indexed.
DROP INDEX decisions_result;
DROP INDEX decisions_token;
DROP TABLE decision_checks;
