-- See migrations/0019_decisions_lean.sql.
DROP INDEX decisions_result;
DROP INDEX decisions_token;
DROP TABLE decision_checks;
