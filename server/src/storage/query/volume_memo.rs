//! The volume memos' rows (migrations/0036_volume_memos.sql): the per-hour counts of a filter
//! no rollup keeps, for every matching entry below a seq. Read inside the chart's snapshot (a
//! memo is only read when it was built with as many months archived as the snapshot sees, so
//! every entry it counted is still in the log); written after it, in a transaction of its own,
//! by whichever process counted: a memo and its hours are always from one snapshot.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

use app::filter::Filter;

use super::conditions::push_conditions;
use super::volume_bucket::push_bucket;
use crate::domain::query::volume::origin;
use crate::domain::query::window::Bounds;

/// A kept memo: counts of every matching entry with seq below `below_seq`, and the first and
/// last time among them (`None`: none matched).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memo {
    pub below_seq: i64,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
}

/// One hour's matching entries: when the hour starts, how many succeeded and failed, and the
/// first and last time in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HourCount {
    pub hour: DateTime<Utc>,
    pub success: i64,
    pub failure: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

impl Memo {
    /// The memo of `hours`, all counted below `below_seq`.
    pub fn of(below_seq: i64, hours: &[HourCount]) -> Memo {
        Memo {
            below_seq,
            first_at: hours.iter().map(|h| h.first_at).min(),
            last_at: hours.iter().map(|h| h.last_at).max(),
        }
    }
}

/// The memo kept under `key`, if it was built with `archived` months dropped.
pub(super) async fn read(
    conn: &mut PgConnection,
    key: &[u8; 32],
    archived: i64,
) -> Result<Option<Memo>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT below_seq, first_at, last_at FROM volume_memos WHERE key = $1 AND archived = $2",
    )
    .bind(&key[..])
    .bind(archived)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Memo {
            below_seq: r.try_get("below_seq")?,
            first_at: r.try_get("first_at")?,
            last_at: r.try_get("last_at")?,
        })
    })
    .transpose()
}

/// Every hour of the entries matching `f` (whatever their time) with seq in `lo..hi`.
pub(super) async fn hours_from_log(
    conn: &mut PgConnection,
    f: &Filter,
    lo: i64,
    hi: i64,
) -> Result<Vec<HourCount>, sqlx::Error> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT date_bin(interval '1 hour', occurred_at, ");
    qb.push_bind(origin())
        .push(
            ") AS hour, count(*) FILTER (WHERE status = 'success') AS success, \
             count(*) FILTER (WHERE status <> 'success') AS failure, \
             min(occurred_at) AS first_at, max(occurred_at) AS last_at \
             FROM audit_entries WHERE seq >= ",
        )
        .push_bind(lo)
        .push(" AND seq < ")
        .push_bind(hi);
    push_conditions(&mut qb, f, &Bounds::default());
    qb.push(" GROUP BY 1 ORDER BY 1");
    let rows = qb.build().persistent(false).fetch_all(conn).await?;
    rows.into_iter()
        .map(|r| {
            Ok(HourCount {
                hour: r.try_get("hour")?,
                success: r.try_get("success")?,
                failure: r.try_get("failure")?,
                first_at: r.try_get("first_at")?,
                last_at: r.try_get("last_at")?,
            })
        })
        .collect()
}

/// `SELECT bucket, success, failure` of the memo's hours `start..end` in buckets of `size`.
pub(super) fn push_hours(
    qb: &mut QueryBuilder<'_, Postgres>,
    key: &[u8; 32],
    size: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    push_bucket(qb, size, "hour");
    qb.push(
        ", sum(success)::bigint AS success, sum(failure)::bigint AS failure \
             FROM volume_memo_hours WHERE key = ",
    )
    .push_bind(key.to_vec())
    .push(" AND hour >= ")
    .push_bind(start)
    .push(" AND hour < ")
    .push_bind(end)
    .push(" GROUP BY 1");
}

/// Adds `hours` to the memo's (an hour it has gains their counts).
async fn add_hours(
    conn: &mut PgConnection,
    key: &[u8; 32],
    hours: &[HourCount],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO volume_memo_hours AS h (key, hour, success, failure) \
         SELECT $1, * FROM unnest($2::timestamptz[], $3::bigint[], $4::bigint[]) \
         ON CONFLICT (key, hour) DO UPDATE \
         SET success = h.success + excluded.success, failure = h.failure + excluded.failure",
    )
    .bind(&key[..])
    .bind(hours.iter().map(|h| h.hour).collect::<Vec<_>>())
    .bind(hours.iter().map(|h| h.success).collect::<Vec<_>>())
    .bind(hours.iter().map(|h| h.failure).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps `memo` of `hours` under `key` (replacing any other), then drops the oldest built or
/// brought up to date beyond `cap`.
pub(super) async fn store(
    pool: &PgPool,
    key: &[u8; 32],
    archived: i64,
    memo: Memo,
    hours: &[HourCount],
    cap: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM volume_memos WHERE key = $1")
        .bind(&key[..])
        .execute(&mut *tx)
        .await?;
    // Another process storing the same filter's memo at once: the first to commit keeps it.
    let inserted = sqlx::query(
        "INSERT INTO volume_memos (key, below_seq, archived, first_at, last_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
    )
    .bind(&key[..])
    .bind(memo.below_seq)
    .bind(archived)
    .bind(memo.first_at)
    .bind(memo.last_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        add_hours(&mut tx, key, hours).await?;
        sqlx::query(
            "DELETE FROM volume_memos WHERE key IN \
             (SELECT key FROM volume_memos ORDER BY built_at DESC, key OFFSET $1)",
        )
        .bind(cap)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Adds `hours`, counted from seq `from_seq` to `memo.below_seq`, to the memo under `key` if
/// it still ends at `from_seq` (another process may have brought it up to date first).
pub(super) async fn advance(
    pool: &PgPool,
    key: &[u8; 32],
    from_seq: i64,
    memo: Memo,
    hours: &[HourCount],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "UPDATE volume_memos SET below_seq = $3, built_at = now(), \
         first_at = least(first_at, $4), last_at = greatest(last_at, $5) \
         WHERE key = $1 AND below_seq = $2",
    )
    .bind(&key[..])
    .bind(from_seq)
    .bind(memo.below_seq)
    .bind(memo.first_at)
    .bind(memo.last_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 1 {
        add_hours(&mut tx, key, hours).await?;
    }
    tx.commit().await
}
