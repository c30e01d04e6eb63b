//! Scheduled exports as stored (migrations/0028): schedules, and their runs — one per period,
//! planned by any process (the unique index keeps it to one), claimed by one at a time
//! through a lease (`FOR UPDATE SKIP LOCKED`), finished only by the lease's holder. What a
//! period holds is read here too: the seq range recorded in it and the chain hashes around it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// One schedule as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub name: String,
    pub cadence: String,
    pub cron: Option<String>,
    pub zone: String,
    pub filter: String,
    pub format: String,
    pub destination: String,
    /// A directory destination's folder.
    pub directory: Option<String>,
    /// An S3 destination's settings (all set, or none: the table's CHECK), its credentials
    /// sealed (`domain::sealed`, bound to the schedule's id).
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_prefix: Option<String>,
    pub s3_path_style: Option<bool>,
    pub s3_credentials: Option<Vec<u8>>,
    pub lock_mode: Option<String>,
    pub lock_days: Option<i32>,
    pub enabled: bool,
    pub starts_at: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

const SCHEDULE_COLUMNS: &str = "id, name, cadence, cron, zone, filter, format, destination, \
    directory, s3_endpoint, s3_region, s3_bucket, s3_prefix, s3_path_style, s3_credentials, \
    lock_mode, lock_days, enabled, starts_at, created_by, created_at, updated_at, deleted_at";

/// One run as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: Uuid,
    pub schedule_id: Uuid,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub manual: bool,
    pub requested_by: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_owner: Option<Uuid>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub first_seq: Option<i64>,
    pub end_seq: Option<i64>,
    pub entries: Option<i64>,
    pub bytes: Option<i64>,
    pub sha256: Option<Vec<u8>>,
    pub object_key: Option<String>,
    pub checkpoint_size: Option<i64>,
    pub chain_hash_after: Option<Vec<u8>>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    /// Where the object went (`directory` or `s3`), and the version an S3 store gave it.
    pub destination: Option<String>,
    pub object_version: Option<String>,
    /// The filter the run was cut with (canonical; empty: every entry).
    pub filter: Option<String>,
    /// The format it was written in (`bundle`, ...).
    pub format: Option<String>,
}

const RUN_COLUMNS: &str = "id, schedule_id, period_start, period_end, manual, requested_by, \
    status, attempts, next_attempt_at, lease_owner, lease_until, created_at, started_at, \
    finished_at, first_seq, end_seq, entries, bytes, sha256, object_key, checkpoint_size, \
    chain_hash_after, duration_ms, error, destination, object_version, filter, format";

/// Stores a new schedule.
pub async fn insert_schedule(conn: &mut PgConnection, s: &ScheduleRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO export_schedules (id, name, cadence, cron, zone, filter, format, \
         destination, directory, s3_endpoint, s3_region, s3_bucket, s3_prefix, s3_path_style, \
         s3_credentials, lock_mode, lock_days, enabled, starts_at, created_by, created_at, \
         updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $21)",
    )
    .bind(s.id)
    .bind(&s.name)
    .bind(&s.cadence)
    .bind(&s.cron)
    .bind(&s.zone)
    .bind(&s.filter)
    .bind(&s.format)
    .bind(&s.destination)
    .bind(&s.directory)
    .bind(&s.s3_endpoint)
    .bind(&s.s3_region)
    .bind(&s.s3_bucket)
    .bind(&s.s3_prefix)
    .bind(s.s3_path_style)
    .bind(&s.s3_credentials)
    .bind(&s.lock_mode)
    .bind(s.lock_days)
    .bind(s.enabled)
    .bind(s.starts_at)
    .bind(&s.created_by)
    .bind(s.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites a schedule's settings (not its id, creator or start).
pub async fn update_schedule(conn: &mut PgConnection, s: &ScheduleRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE export_schedules SET name = $2, cadence = $3, cron = $4, zone = $5, filter = $6, \
         format = $7, destination = $8, directory = $9, s3_endpoint = $10, s3_region = $11, \
         s3_bucket = $12, s3_prefix = $13, s3_path_style = $14, s3_credentials = $15, \
         lock_mode = $16, lock_days = $17, enabled = $18, updated_at = $19 \
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(s.id)
    .bind(&s.name)
    .bind(&s.cadence)
    .bind(&s.cron)
    .bind(&s.zone)
    .bind(&s.filter)
    .bind(&s.format)
    .bind(&s.destination)
    .bind(&s.directory)
    .bind(&s.s3_endpoint)
    .bind(&s.s3_region)
    .bind(&s.s3_bucket)
    .bind(&s.s3_prefix)
    .bind(s.s3_path_style)
    .bind(&s.s3_credentials)
    .bind(&s.lock_mode)
    .bind(s.lock_days)
    .bind(s.enabled)
    .bind(s.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a schedule deleted: it plans no more runs; its runs and objects stay explained.
pub async fn delete_schedule(
    conn: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE export_schedules SET deleted_at = $2, updated_at = $2 \
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A schedule that is not deleted, locked for a change.
pub async fn lock_schedule(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ScheduleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM export_schedules \
         WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A schedule, deleted or not.
pub async fn schedule(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<ScheduleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM export_schedules WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Schedule `id` as it is now, locked until the transaction ends (`None`: deleted): planning
/// reads its timing under the lock, so an edit of the timing waits for a plan in progress and
/// every later plan reads the new timing.
pub async fn schedule_locked(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
) -> Result<Option<ScheduleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM export_schedules WHERE id = $1 AND deleted_at IS NULL \
         FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The schedules that are not deleted, by name: all of them (creating one more than
/// [`app::exports::SCHEDULES_MAX`] is refused).
pub async fn schedules(db: impl PgExecutor<'_>) -> Result<Vec<ScheduleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM export_schedules WHERE deleted_at IS NULL \
         ORDER BY lower(name), id"
    ))
    .fetch_all(db)
    .await
}

/// Whether a run of `run`'s schedule and period other than `run` was created before it and
/// has succeeded or may still (pending or running).
pub async fn another_run_of_period(
    db: impl PgExecutor<'_>,
    run: &RunRow,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM export_runs o, export_runs r WHERE r.id = $1 \
             AND o.schedule_id = r.schedule_id AND o.period_start = r.period_start \
             AND o.period_end = r.period_end AND o.id <> r.id \
             AND (o.created_at, o.id) < (r.created_at, r.id) \
             AND o.status IN ('succeeded', 'pending', 'running'))",
    )
    .bind(run.id)
    .fetch_one(db)
    .await
}

/// How many schedules are not deleted.
pub async fn schedule_count(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM export_schedules WHERE deleted_at IS NULL")
        .fetch_one(db)
        .await
}

/// The end of the newest period planned for `schedule` (manual runs aside).
pub async fn planned_until(
    db: impl PgExecutor<'_>,
    schedule: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT max(period_end) FROM export_runs WHERE schedule_id = $1 AND NOT manual",
    )
    .bind(schedule)
    .fetch_one(db)
    .await
}

/// Plans the run of one period: stored once, whichever process gets there first. Returns
/// whether this call stored it.
pub async fn plan(
    db: impl PgExecutor<'_>,
    schedule: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO export_runs (id, schedule_id, period_start, period_end, manual, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, false, $5, $5) \
         ON CONFLICT (schedule_id, period_start) WHERE NOT manual DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(schedule)
    .bind(start)
    .bind(end)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A run asked for by a person (a period of its schedule, run again or early).
pub async fn insert_manual(
    db: impl PgExecutor<'_>,
    schedule: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<RunRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO export_runs (id, schedule_id, period_start, period_end, manual, \
         requested_by, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, true, $5, $6, $6) \
         RETURNING {RUN_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(schedule)
    .bind(start)
    .bind(end)
    .bind(by)
    .bind(now)
    .fetch_one(db)
    .await
}

/// Claims the most overdue run that is due (pending, or running under a lapsed lease) for
/// `owner` until `lease_until`: one process at a time holds a run.
///
/// A run whose lease lapsed in its last allowed attempt (the `max_attempts`-th: its process
/// died, or never got to renew) fails with that said, and the earlier attempt's error kept,
/// instead of being taken over again: no run is retried without end.
pub async fn claim(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    max_attempts: i32,
) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH worn_out AS ( \
             UPDATE export_runs SET status = 'failed', finished_at = $2, \
                 lease_owner = NULL, lease_until = NULL, \
                 error = left('its last attempt (' || attempts || ' of ' || $4 \
                              || ') stopped or lost its lease before it ended' \
                              || coalesce('; the attempt before failed: ' || error, ''), 2000) \
             WHERE status = 'running' AND lease_until < $2 AND attempts >= $4) \
         UPDATE export_runs SET status = 'running', lease_owner = $1, lease_until = $3, \
             attempts = attempts + 1, started_at = coalesce(started_at, $2) \
         WHERE id = (SELECT id FROM export_runs \
                     WHERE (status = 'pending' AND next_attempt_at <= $2) \
                        OR (status = 'running' AND lease_until < $2 AND attempts < $4) \
                     ORDER BY next_attempt_at, period_start, id LIMIT 1 \
                     FOR UPDATE SKIP LOCKED) \
         RETURNING {RUN_COLUMNS}"
    ))
    .bind(owner)
    .bind(now)
    .bind(lease_until)
    .bind(max_attempts)
    .fetch_optional(db)
    .await
}

/// Extends `owner`'s lease on `run`; `false` when it lost the lease (another process took it
/// over after it lapsed).
pub async fn renew(
    db: impl PgExecutor<'_>,
    run: Uuid,
    owner: Uuid,
    lease_until: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE export_runs SET lease_until = $3 \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(run)
    .bind(owner)
    .bind(lease_until)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub first_seq: i64,
    pub end_seq: i64,
    pub entries: i64,
    pub bytes: i64,
    pub sha256: Vec<u8>,
    pub object_key: String,
    /// `directory` or `s3`, and the S3 object's version.
    pub destination: &'static str,
    pub object_version: Option<String>,
    pub filter: String,
    /// The format it was written in.
    pub format: String,
    pub checkpoint_size: i64,
    pub chain_hash_after: Vec<u8>,
    pub duration_ms: i64,
}

/// Records `owner`'s run as succeeded, inside the caller's transaction (with its
/// `export.created` entry); `false` when it no longer holds the lease.
pub async fn succeed(
    conn: &mut PgConnection,
    run: Uuid,
    owner: Uuid,
    r: &RunResult,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE export_runs SET status = 'succeeded', finished_at = $3, lease_owner = NULL, \
             lease_until = NULL, error = NULL, first_seq = $4, end_seq = $5, entries = $6, \
             bytes = $7, sha256 = $8, object_key = $9, checkpoint_size = $10, \
             chain_hash_after = $11, duration_ms = $12, destination = $13, object_version = $14, \
             filter = $15, format = $16 \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(run)
    .bind(owner)
    .bind(now)
    .bind(r.first_seq)
    .bind(r.end_seq)
    .bind(r.entries)
    .bind(r.bytes)
    .bind(&r.sha256)
    .bind(&r.object_key)
    .bind(r.checkpoint_size)
    .bind(&r.chain_hash_after)
    .bind(r.duration_ms)
    .bind(r.destination)
    .bind(&r.object_version)
    .bind(&r.filter)
    .bind(&r.format)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt of `owner`'s run: tried again at `retry_at`, or, with `None`,
/// failed for good.
pub async fn fail_attempt(
    db: impl PgExecutor<'_>,
    run: Uuid,
    owner: Uuid,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let error: String = error.chars().take(2000).collect();
    let done = sqlx::query(
        "UPDATE export_runs SET status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' \
                                              ELSE 'pending' END, \
             next_attempt_at = coalesce($4, next_attempt_at), error = $3, \
             finished_at = CASE WHEN $4::timestamptz IS NULL THEN $5 END, \
             lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(run)
    .bind(owner)
    .bind(error)
    .bind(retry_at)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One run.
pub async fn run(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM export_runs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A run with its schedule's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NamedRun {
    #[sqlx(flatten)]
    pub run: RunRow,
    pub schedule_name: String,
}

/// The newest runs first (by creation, then period, then id), `limit` of them, after `before`
/// (that run's `(created_at, period_start, id)`) if given; of one schedule if given; each
/// with its schedule's name (one statement).
pub async fn history(
    db: impl PgExecutor<'_>,
    schedule: Option<Uuid>,
    before: Option<&RunRow>,
    limit: i64,
) -> Result<Vec<NamedRun>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT r.*, s.name AS schedule_name FROM ( \
           SELECT {RUN_COLUMNS} FROM export_runs \
           WHERE ($1::uuid IS NULL OR schedule_id = $1) \
             AND ($2::timestamptz IS NULL OR (created_at, period_start, id) < ($2, $3, $4)) \
           ORDER BY created_at DESC, period_start DESC, id DESC LIMIT $5) r \
         JOIN export_schedules s ON s.id = r.schedule_id \
         ORDER BY r.created_at DESC, r.period_start DESC, r.id DESC"
    ))
    .bind(schedule)
    .bind(before.map(|b| b.created_at))
    .bind(before.map(|b| b.period_start))
    .bind(before.map(|b| b.id))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The succeeded scheduled run of `schedule` whose period ends at `end` (the previous
/// period's bundle), if any.
pub async fn succeeded_ending_at(
    db: impl PgExecutor<'_>,
    schedule: Uuid,
    end: DateTime<Utc>,
) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM export_runs WHERE schedule_id = $1 AND period_end = $2 \
         AND status = 'succeeded' ORDER BY finished_at DESC LIMIT 1"
    ))
    .bind(schedule)
    .bind(end)
    .fetch_optional(db)
    .await
}

/// Whether a run of `schedule` for the period `[start, end)` is pending or running.
pub async fn open_run_for(
    db: impl PgExecutor<'_>,
    schedule: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM export_runs WHERE schedule_id = $1 AND period_start = $2 \
         AND period_end = $3 AND status IN ('pending', 'running'))",
    )
    .bind(schedule)
    .bind(start)
    .bind(end)
    .fetch_one(db)
    .await
}

/// The database's clock (the one `recorded_at` is taken from).
pub async fn clock(db: impl PgExecutor<'_>) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(db)
        .await
}

/// Waits until every append that began before now has committed or rolled back (the chain
/// head's lock), then lets go. Appends after it are recorded at or after now.
pub async fn append_barrier(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("SELECT next_seq FROM chain_head_for_append()")
        .execute(&mut *tx)
        .await?;
    tx.rollback().await
}

/// The succeeded runs of unfiltered bundles holding any seq of `first..end`, oldest first
/// (a CSV, JSON, NDJSON or PDF file of every entry is no archive: only bundles count).
pub async fn archives_between(
    db: impl PgExecutor<'_>,
    first: i64,
    end: i64,
) -> Result<Vec<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM export_runs WHERE status = 'succeeded' AND filter = '' \
         AND format = 'bundle' AND first_seq < $2 AND end_seq > $1 \
         ORDER BY first_seq, finished_at"
    ))
    .bind(first)
    .bind(end)
    .fetch_all(db)
    .await
}

/// The first entry's recorded_at, if the log holds any (the first archived month's start when
/// its oldest entries were archived and dropped).
pub async fn first_recorded_at(
    db: impl PgExecutor<'_>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT least((SELECT min(month) FROM archived_months), \
                      (SELECT recorded_at FROM audit_entries ORDER BY seq LIMIT 1))",
    )
    .fetch_one(db)
    .await
}

/// Entry `seq`'s recorded_at; for an entry of an archived (dropped) month, that month's first
/// instant: as ordered along seq as the real ones, and exact at every month boundary (a
/// period that meets an archived month cannot be read from the database any more, and is
/// refused by its dates: `retention::archived_meeting`).
pub async fn recorded_at(
    db: impl PgExecutor<'_>,
    seq: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT recorded_at FROM audit_entries WHERE seq = $1), \
                         (SELECT month FROM archived_months \
                          WHERE $1 >= first_seq AND $1 < end_seq))",
    )
    .bind(seq)
    .fetch_one(db)
    .await
}

/// Entry `seq`'s chain hash (the last entry of an archived month's: as archived).
pub async fn chain_hash_of(
    db: impl PgExecutor<'_>,
    seq: i64,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT chain_hash FROM audit_entries WHERE seq = $1), \
                         (SELECT chain_hash_after FROM archived_months WHERE end_seq = $1 + 1))",
    )
    .bind(seq)
    .fetch_one(db)
    .await
}
