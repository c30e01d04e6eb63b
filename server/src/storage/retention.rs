//! Retention's rows (migrations/0031_retention.sql): the policy, the months that left the log
//! (`archived_months`, written only by the database's `audit_entries_drop_month()`, never
//! changed), and the one call that drops a month. The database checks the month against the
//! run and refuses anything else; this module only asks.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The retention policy: keep the current month and `keep_months` before it online; older
/// months are archived by `schedule_id` (a monthly UTC bundle schedule), then dropped.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyRow {
    pub keep_months: Option<i32>,
    pub schedule_id: Option<Uuid>,
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A month that left the log: its seqs `[first_seq, end_seq)`, the chain hash before and
/// after them, and where its bundle is.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArchivedMonthRow {
    pub month: DateTime<Utc>,
    pub month_end: DateTime<Utc>,
    pub first_seq: i64,
    pub end_seq: i64,
    pub chain_hash_before: Vec<u8>,
    pub chain_hash_after: Vec<u8>,
    pub run_id: Uuid,
    pub destination: String,
    pub location: String,
    pub object_version: Option<String>,
    pub bytes: i64,
    pub sha256: Vec<u8>,
    /// The earliest and latest `occurred_at` of its entries.
    pub occurred_from: DateTime<Utc>,
    pub occurred_to: DateTime<Utc>,
    pub dropped_at: DateTime<Utc>,
}

impl ArchivedMonthRow {
    /// The month as the API and the console name it.
    pub fn into_part(self) -> app::model::ArchivedPart {
        app::model::ArchivedPart {
            month: self.month.format("%Y-%m").to_string(),
            first_seq: self.first_seq,
            end_seq: self.end_seq,
            destination: self.destination,
            location: self.location,
            version: self.object_version,
            sha256: app::integrity::to_hex(&self.sha256),
        }
    }
}

const ARCHIVED_COLUMNS: &str = "month, month_end, first_seq, end_seq, chain_hash_before, \
    chain_hash_after, run_id, destination, location, object_version, bytes, sha256, \
    occurred_from, occurred_to, dropped_at";

pub async fn policy(db: impl PgExecutor<'_>) -> Result<PolicyRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT keep_months, schedule_id, updated_by, updated_at FROM retention_policy \
         WHERE singleton",
    )
    .fetch_one(db)
    .await
}

/// Sets the policy (`None`: keep every month), inside the caller's transaction; returns the
/// one it replaced.
pub async fn set_policy(
    conn: &mut PgConnection,
    keep: Option<(i32, Uuid)>,
    by: &str,
    at: DateTime<Utc>,
) -> Result<PolicyRow, sqlx::Error> {
    let before: PolicyRow = sqlx::query_as(
        "SELECT keep_months, schedule_id, updated_by, updated_at FROM retention_policy \
         WHERE singleton FOR UPDATE",
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE retention_policy SET keep_months = $1, schedule_id = $2, updated_by = $3, \
         updated_at = $4 WHERE singleton",
    )
    .bind(keep.map(|k| k.0))
    .bind(keep.map(|k| k.1))
    .bind(by)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(before)
}

/// Every archived month, oldest first.
pub async fn archived(db: impl PgExecutor<'_>) -> Result<Vec<ArchivedMonthRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ARCHIVED_COLUMNS} FROM archived_months ORDER BY first_seq"
    ))
    .fetch_all(db)
    .await
}

/// The archived months that meet the instants `[start, end)` (of `recorded_at`), oldest first.
pub async fn archived_meeting(
    db: impl PgExecutor<'_>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ArchivedMonthRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ARCHIVED_COLUMNS} FROM archived_months WHERE month < $2 AND month_end > $1 \
         ORDER BY first_seq"
    ))
    .bind(start)
    .bind(end)
    .fetch_all(db)
    .await
}

/// The archived months whose seqs meet `[first, end)`, oldest first.
pub async fn archived_overlapping(
    db: impl PgExecutor<'_>,
    first: i64,
    end: i64,
) -> Result<Vec<ArchivedMonthRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ARCHIVED_COLUMNS} FROM archived_months WHERE first_seq < $2 AND end_seq > $1 \
         ORDER BY first_seq"
    ))
    .bind(first)
    .bind(end)
    .fetch_all(db)
    .await
}

/// The archived months holding entries that occurred within `[from, to)` (`None`: unbounded),
/// oldest first.
pub async fn archived_within(
    db: impl PgExecutor<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<ArchivedMonthRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ARCHIVED_COLUMNS} FROM archived_months \
         WHERE ($1::timestamptz IS NULL OR occurred_to >= $1) \
           AND ($2::timestamptz IS NULL OR occurred_from < $2) ORDER BY first_seq"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}

/// How many of the entries below `seq_limit` were archived and dropped (a count by seq must
/// take them off: seq stays gapless, the table does not).
pub async fn archived_below(db: impl PgExecutor<'_>, seq_limit: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(least(end_seq, $1) - first_seq), 0)::bigint FROM archived_months \
         WHERE first_seq < $1",
    )
    .bind(seq_limit)
    .fetch_one(db)
    .await
}

/// The first instant (UTC) of every month that has a partition in the log, oldest first.
pub async fn online_months(db: impl PgExecutor<'_>) -> Result<Vec<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT to_date(substr(c.relname, 15), 'YYYY\"m\"MM')::timestamp AT TIME ZONE 'UTC' \
         FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'public.audit_entries'::regclass \
           AND c.relname ~ '^audit_entries_[0-9]{4}m[0-9]{2}$' \
         ORDER BY c.relname",
    )
    .fetch_all(db)
    .await
}

/// Drops the month `run` archived, inside the caller's transaction (which must also append
/// the `retention.partition_dropped` entry, or the commit is refused). `reread_sha256`: the
/// SHA-256 of the bundle as it was read back from its destination. Returns what the entry
/// states. Refused, with a reason, for anything but an unfiltered bundle of exactly a whole
/// month the policy lets go.
pub async fn drop_month(
    conn: &mut PgConnection,
    run: Uuid,
    reread_sha256: &[u8],
) -> Result<serde_json::Value, sqlx::Error> {
    sqlx::query_scalar("SELECT audit_entries_drop_month($1, $2)")
        .bind(run)
        .bind(reread_sha256)
        .fetch_one(conn)
        .await
}
