-- Scheduled exports to S3-compatible buckets under Object Lock (issue 26, item 2).
--
-- 1. A schedule's destination is a folder under the export directory, or a bucket: endpoint,
--    region, bucket, key prefix, addressing style, the Object Lock every object is written
--    with (mode, days), and the credentials, sealed by the server (XChaCha20-Poly1305 under a
--    key derived from the log's key file, bound to the schedule's id: domain::sealed). The
--    database, its dumps and its replicas hold only ciphertext; no API answers with it.
-- 2. A run records where its object went (the destination, and the version the store gave
--    it) and the filter it was cut with (the schedule's may change later): the month view
--    counts only unfiltered bundles as archives of a month.

ALTER TABLE export_schedules
    DROP CONSTRAINT export_schedules_destination_check,
    ADD CONSTRAINT export_schedules_destination_check CHECK (destination IN ('directory', 's3')),
    ALTER COLUMN directory DROP NOT NULL,
    ADD COLUMN s3_endpoint    text    CHECK (length(s3_endpoint) BETWEEN 8 AND 500
                                             AND s3_endpoint ~ '^https?://[^/@?#]+(/[^?#]*)?$'),
    ADD COLUMN s3_region      text    CHECK (s3_region ~ '^[a-z0-9-]{1,64}$'),
    ADD COLUMN s3_bucket      text    CHECK (s3_bucket ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'),
    ADD COLUMN s3_prefix      text    CHECK (length(s3_prefix) <= 500
                                             AND s3_prefix !~ '(^/|/$|(^|/)\.\.?(/|$)|//|\\|[[:cntrl:]])'),
    ADD COLUMN s3_path_style  boolean,
    ADD COLUMN s3_credentials bytea   CHECK (length(s3_credentials) BETWEEN 41 AND 2048),
    ADD COLUMN lock_mode      text    CHECK (lock_mode IN ('COMPLIANCE', 'GOVERNANCE')),
    ADD COLUMN lock_days      integer CHECK (lock_days BETWEEN 1 AND 36500),
    ADD CONSTRAINT export_schedules_destination_fields CHECK (
        (destination = 'directory' AND directory IS NOT NULL
            AND num_nonnulls(s3_endpoint, s3_region, s3_bucket, s3_prefix, s3_path_style,
                             s3_credentials, lock_mode, lock_days) = 0)
        OR (destination = 's3' AND directory IS NULL
            AND num_nulls(s3_endpoint, s3_region, s3_bucket, s3_prefix, s3_path_style,
                          s3_credentials, lock_mode, lock_days) = 0));

ALTER TABLE export_runs
    ADD COLUMN destination    text CHECK (destination IN ('directory', 's3')),
    ADD COLUMN object_version text CHECK (length(object_version) <= 1024),
    ADD COLUMN filter         text CHECK (length(filter) <= 16384);
UPDATE export_runs r SET destination = 'directory', filter = s.filter
    FROM export_schedules s WHERE s.id = r.schedule_id AND r.status = 'succeeded';
ALTER TABLE export_runs
    ADD CONSTRAINT export_runs_where CHECK (status <> 'succeeded'
                                            OR (destination IS NOT NULL AND filter IS NOT NULL));
