-- A rule's state (`alert_rules.state`, the decision machine's memory) is rewritten by the
-- evaluator each step in which it changed: with many groups alerting it is kilobytes, kept
-- out of line and compressed. pglz, the default, was the largest share of PostgreSQL's time
-- in the evaluator's steps (BENCHMARKS.md, "Alerting"); lz4 compresses it several times faster.
-- A server built without lz4 keeps the default: nothing else depends on it.
DO $$
BEGIN
    ALTER TABLE alert_rules ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available: alert_rules.state keeps the default compression';
END
$$;
