//! The Top values memos' rows (migrations/0037_top_memos.sql): per UTC day, field and value,
//! the count of every entry matching a filter below a seq. Read inside Top values' snapshot (a
//! memo is only read when it was built with as many months archived as the snapshot sees, so
//! every entry it counted is still in the log); written after it, in a transaction of its own,
//! by whichever process counted: a memo and its rows are always from one snapshot.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

use app::filter::Filter;
use app::model::TopField;

use super::top_fields::push_grouped_from_log;
use crate::domain::query::top_memo::TopMemoPolicy;
use crate::domain::query::window::Bounds;

/// A kept memo: counts of every matching entry with seq below `below_seq`, or none when its
/// filter's matches have too many values to keep (`too_many`: counted from the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopMemo {
    pub below_seq: i64,
    pub too_many: bool,
}

/// One UTC day's matching entries with one value of one field (its number in the answer), and
/// the largest label among them (`None`: the label is the value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayCount {
    pub day: DateTime<Utc>,
    pub field: i32,
    pub value: String,
    pub label: Option<String>,
    pub n: i64,
}

/// The memo kept under `key`, if it was built with `archived` months dropped.
pub(super) async fn read(
    conn: &mut PgConnection,
    key: &[u8; 32],
    archived: i64,
) -> Result<Option<TopMemo>, sqlx::Error> {
    let row =
        sqlx::query("SELECT below_seq, too_many FROM top_memos WHERE key = $1 AND archived = $2")
            .bind(&key[..])
            .bind(archived)
            .fetch_optional(conn)
            .await?;
    row.map(|r| {
        Ok(TopMemo {
            below_seq: r.try_get("below_seq")?,
            too_many: r.try_get("too_many")?,
        })
    })
    .transpose()
}

/// The day counts of `fields` among the entries matching `f` (whatever their time) with seq in
/// `seqs`, or `None` when there are more than `most` (only `most + 1` are ever fetched).
pub(super) async fn counts_from_log(
    conn: &mut PgConnection,
    f: &Filter,
    fields: &[TopField],
    seqs: std::ops::Range<i64>,
    most: i64,
) -> Result<Option<Vec<DayCount>>, sqlx::Error> {
    let mut qb = QueryBuilder::<Postgres>::new("");
    push_grouped_from_log(&mut qb, f, fields, seqs, &Bounds::default(), true);
    qb.push(" LIMIT ").push_bind(most + 1);
    let rows = qb.build().persistent(false).fetch_all(conn).await?;
    if rows.len() as i64 > most {
        return Ok(None);
    }
    rows.into_iter()
        .map(|r| {
            Ok(DayCount {
                day: r.try_get("day")?,
                field: r.try_get("field")?,
                value: r.try_get("value")?,
                label: r.try_get("label")?,
                n: r.try_get("n")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map(Some)
}

/// ` AND day >= start AND day < end` of `days` (open where they are).
fn push_days(qb: &mut QueryBuilder<'_, Postgres>, days: &Bounds) {
    if let Some(start) = days.from {
        qb.push(" AND day >= ").push_bind(start);
    }
    if let Some(end) = days.to {
        qb.push(" AND day < ").push_bind(end);
    }
}

/// `SELECT field, value, label, n` of the memo under `key` in the whole UTC `days`.
pub(super) fn push_kept(qb: &mut QueryBuilder<'_, Postgres>, key: &[u8; 32], days: &Bounds) {
    qb.push("SELECT field, value, label, n FROM top_memo_values WHERE key = ")
        .push_bind(key.to_vec());
    push_days(qb, days);
}

/// The same of `counts`, counted in this snapshot and not kept yet.
pub(super) fn push_built(qb: &mut QueryBuilder<'_, Postgres>, counts: &[DayCount], days: &Bounds) {
    let (day, field, value, label, n) = columns(counts);
    qb.push("SELECT field, value, label, n FROM unnest(")
        .push_bind(day)
        .push("::timestamptz[], ")
        .push_bind(field)
        .push("::integer[], ")
        .push_bind(value)
        .push("::text[], ")
        .push_bind(label)
        .push("::text[], ")
        .push_bind(n)
        .push("::bigint[]) AS built(day, field, value, label, n) WHERE true");
    push_days(qb, days);
}

type Columns = (
    Vec<DateTime<Utc>>,
    Vec<i32>,
    Vec<String>,
    Vec<Option<String>>,
    Vec<i64>,
);

/// `counts` as one array per column (what `unnest` takes).
fn columns(counts: &[DayCount]) -> Columns {
    (
        counts.iter().map(|c| c.day).collect(),
        counts.iter().map(|c| c.field).collect(),
        counts.iter().map(|c| c.value.clone()).collect(),
        counts.iter().map(|c| c.label.clone()).collect(),
        counts.iter().map(|c| c.n).collect(),
    )
}

/// Adds `counts` to the memo's (a day, field and value it has gains their count and keeps the
/// larger label).
async fn add_counts(
    conn: &mut PgConnection,
    key: &[u8; 32],
    counts: &[DayCount],
) -> Result<(), sqlx::Error> {
    let (day, field, value, label, n) = columns(counts);
    sqlx::query(
        "INSERT INTO top_memo_values AS v (key, day, field, value, label, n) \
         SELECT $1, * FROM unnest($2::timestamptz[], $3::integer[], $4::text[], $5::text[], \
                                  $6::bigint[]) \
         ON CONFLICT (key, day, field, value) DO UPDATE \
         SET n = v.n + excluded.n, label = greatest(v.label, excluded.label)",
    )
    .bind(&key[..])
    .bind(day)
    .bind(field)
    .bind(value)
    .bind(label)
    .bind(n)
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops the oldest built memos beyond the policy's count or rows.
async fn evict(conn: &mut PgConnection, policy: &TopMemoPolicy) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM top_memos WHERE key IN (SELECT key FROM ( \
           SELECT key, row_number() OVER newest AS place, sum(kept_rows) OVER newest AS running \
           FROM top_memos WINDOW newest AS (ORDER BY built_at DESC, key)) AS kept \
         WHERE place > $1 OR running > $2)",
    )
    .bind(policy.memo.cap)
    .bind(policy.rows)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps the memo of `counts` (`None`: too many values to keep) below `below_seq` under `key`
/// (replacing any other), then drops the oldest built beyond the policy's bounds.
pub(super) async fn store(
    pool: &PgPool,
    key: &[u8; 32],
    archived: i64,
    below_seq: i64,
    counts: Option<&[DayCount]>,
    policy: &TopMemoPolicy,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM top_memos WHERE key = $1")
        .bind(&key[..])
        .execute(&mut *tx)
        .await?;
    // Another process storing the same filter's memo at once: the first to commit keeps it.
    let inserted = sqlx::query(
        "INSERT INTO top_memos (key, below_seq, archived, too_many, kept_rows) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
    )
    .bind(&key[..])
    .bind(below_seq)
    .bind(archived)
    .bind(counts.is_none())
    .bind(counts.map_or(0, |c| c.len() as i64))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        if let Some(counts) = counts {
            add_counts(&mut tx, key, counts).await?;
        }
        evict(&mut tx, policy).await?;
    }
    tx.commit().await
}

/// Adds `counts`, counted from seq `from_seq` to `below_seq`, to the memo under `key` if it
/// still ends at `from_seq` (another process may have brought it up to date first). A memo
/// grown beyond the policy's rows per memo keeps no values from then on (too many).
pub(super) async fn advance(
    pool: &PgPool,
    key: &[u8; 32],
    from_seq: i64,
    below_seq: i64,
    counts: Option<&[DayCount]>,
    policy: &TopMemoPolicy,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "UPDATE top_memos SET below_seq = $3, built_at = now() \
         WHERE key = $1 AND below_seq = $2 AND NOT too_many",
    )
    .bind(&key[..])
    .bind(from_seq)
    .bind(below_seq)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 1 {
        if let Some(counts) = counts {
            add_counts(&mut tx, key, counts).await?;
        }
        let rows: i64 = sqlx::query_scalar(
            "UPDATE top_memos SET kept_rows = \
             (SELECT count(*) FROM top_memo_values WHERE key = $1) \
             WHERE key = $1 RETURNING kept_rows",
        )
        .bind(&key[..])
        .fetch_one(&mut *tx)
        .await?;
        if counts.is_none() || rows > policy.most_rows() {
            sqlx::query("DELETE FROM top_memo_values WHERE key = $1")
                .bind(&key[..])
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE top_memos SET too_many = true, kept_rows = 0 WHERE key = $1")
                .bind(&key[..])
                .execute(&mut *tx)
                .await?;
        }
        evict(&mut tx, policy).await?;
    }
    tx.commit().await
}
