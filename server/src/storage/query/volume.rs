//! Entries over time under a filter (the chart above the table): grouped reads in one
//! read-only snapshot, each bucket counted by status, so the buckets add up to exactly the
//! entries the filter matches. The window is the filter's; without a start (or end), the first
//! (or last) matching entry's time, so no entry falls outside the chart.
//!
//! Whole hours come from an hourly rollup (migrations/0017_volume_rollups.sql and
//! 0020_resource_and_ip_rollups.sql) when one keeps every field the filter names; the partial
//! hours at the window's edges are counted from the log. The rollups are kept in the
//! appending transaction, so in the one snapshot all agree: the chart stays exact and reads a
//! few rows per value and hour, not every entry.
//!
//! A filter no rollup keeps (a text search) reads its whole hours from its memo
//! (migrations/0036_volume_memos.sql, [`super::volume_memo`]): the hours of every matching
//! entry below a seq, counted once, plus the entries appended since, counted from the log in
//! the same snapshot. Without a memo, a window of a week or more (or an open one) counts every
//! matching entry's hour and keeps them as the memo once the snapshot is over; a shorter one is
//! counted from the log. Every [`MemoPolicy::refresh_after`] entries the memo is brought up to
//! the head, so what is counted from the log stays small.

use app::filter::Filter;
use app::model::{Volume, VolumeBucket};
use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::conditions::{push_conditions, reuse_plan};
use super::error::QueryError;
use super::snapshot::{self, resolve_bounds};
use super::volume_bucket::push_bucket;
use super::volume_memo::{self as memo_rows, HourCount, Memo};
use crate::domain::query::volume::{
    bucket_seconds, bucket_start, memo_key, rollup_for, whole_hours, MemoPolicy, Rollup,
};
use crate::domain::query::window::Bounds;
use crate::storage::pools::{acquire, READS};

/// `SELECT bucket, success, failure` of the log's entries matching `f` with seq in `seqs` in
/// `from..to`, grouped by bucket.
fn push_from_log(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    seqs: std::ops::Range<i64>,
    size: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    push_bucket(qb, size, "occurred_at");
    qb.push(
        ", count(*) FILTER (WHERE status = 'success') AS success, \
             count(*) FILTER (WHERE status <> 'success') AS failure \
             FROM audit_entries WHERE seq < ",
    )
    .push_bind(seqs.end);
    if seqs.start > 0 {
        qb.push(" AND seq >= ").push_bind(seqs.start);
    }
    let window = Bounds {
        from: Some(from),
        to: Some(to),
    };
    push_conditions(qb, f, &window);
    qb.push(" GROUP BY 1");
}

/// The same from `rollup`'s whole hours `start..end` (no time bound of the filter applies
/// inside them: the window holds them whole).
fn push_from_rollup(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    rollup: Rollup,
    size: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    push_bucket(qb, size, "hour");
    qb.push(
        ", \
             coalesce(sum(entries) FILTER (WHERE status = 'success'), 0)::bigint AS success, \
             coalesce(sum(entries) FILTER (WHERE status <> 'success'), 0)::bigint AS failure \
             FROM ",
    )
    .push(rollup.table())
    .push(" WHERE hour >= ")
    .push_bind(start)
    .push(" AND hour < ")
    .push_bind(end);
    push_conditions(qb, f, &Bounds::default());
    qb.push(" GROUP BY 1");
}

/// Where a chart of a filter no rollup keeps reads its whole hours: a memo kept under `key`
/// (to which the entries appended since are added from the log), or one counted in this
/// snapshot to be kept afterwards.
enum Memoised {
    Kept { key: [u8; 32], memo: Memo },
    Built { memo: Memo, hours: Vec<HourCount> },
}

impl Memoised {
    fn memo(&self) -> Memo {
        match self {
            Memoised::Kept { memo, .. } | Memoised::Built { memo, .. } => *memo,
        }
    }
}

/// What the chart leaves to do once its snapshot is over: keep a memo it counted, or bring a
/// kept one up to the head.
enum MemoWrite {
    Store {
        archived: i64,
        memo: Memo,
        hours: Vec<HourCount>,
    },
    Advance {
        from_seq: i64,
        memo: Memo,
        hours: Vec<HourCount>,
    },
}

/// Writes what a chart left to do with its memo. The chart is answered whatever becomes of
/// it: a memo not kept is counted again by the next read.
async fn keep_memo(pool: &PgPool, key: &[u8; 32], write: MemoWrite, policy: &MemoPolicy) {
    let written = match &write {
        MemoWrite::Store {
            archived,
            memo,
            hours,
        } => memo_rows::store(pool, key, *archived, *memo, hours, policy.cap).await,
        MemoWrite::Advance {
            from_seq,
            memo,
            hours,
        } => memo_rows::advance(pool, key, *from_seq, *memo, hours).await,
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, "the volume chart's memo was not kept; it is counted again");
    }
}

/// The hours of the entries matching `f` with seq in `seqs`, or `None` when the server stopped
/// counting them (they are memo work: the chart goes on without it, in the same snapshot).
async fn best_effort(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    f: &Filter,
    seqs: std::ops::Range<i64>,
) -> Result<Option<Vec<HourCount>>, QueryError> {
    use sqlx::Acquire;
    let mut savepoint = (&mut *tx).begin().await?;
    let hours = memo_rows::hours_from_log(&mut savepoint, f, seqs.start, seqs.end).await;
    snapshot::best_effort(savepoint, hours, "a volume memo").await
}

/// What to write once the snapshot is over: the memo counted in it, or the entries appended
/// since a kept one when there are `refresh_after` of them.
async fn memo_write(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    f: &Filter,
    memoised: Option<Memoised>,
    head: i64,
    archived: i64,
    policy: &MemoPolicy,
) -> Result<Option<MemoWrite>, QueryError> {
    Ok(match memoised {
        Some(Memoised::Built { memo, hours }) => Some(MemoWrite::Store {
            archived,
            memo,
            hours,
        }),
        Some(Memoised::Kept { memo, .. }) if head - memo.below_seq >= policy.refresh_after => {
            best_effort(tx, f, memo.below_seq..head)
                .await?
                .map(|hours| MemoWrite::Advance {
                    from_seq: memo.below_seq,
                    memo: Memo::of(head, &hours),
                    hours,
                })
        }
        _ => None,
    })
}

/// The first and last time among the entries matching `f` within `bounds` with seq in `seqs`.
async fn first_and_last(
    conn: &mut sqlx::PgConnection,
    f: &Filter,
    seqs: std::ops::Range<i64>,
    bounds: &Bounds,
    persistent: bool,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), QueryError> {
    if seqs.is_empty() {
        return Ok((None, None));
    }
    // The entries after a memo are read by seq: `OFFSET 0` keeps PostgreSQL from answering
    // min and max by walking the time index from either end through older entries.
    let mut qb = QueryBuilder::new(
        "SELECT min(occurred_at) AS first, max(occurred_at) AS last FROM (\
         SELECT occurred_at FROM audit_entries WHERE seq < ",
    );
    qb.push_bind(seqs.end);
    if seqs.start > 0 {
        qb.push(" AND seq >= ").push_bind(seqs.start);
    }
    push_conditions(&mut qb, f, bounds);
    qb.push(if seqs.start > 0 { " OFFSET 0" } else { "" });
    qb.push(") AS matching");
    let row = qb
        .build()
        .persistent(persistent)
        .fetch_one(&mut *conn)
        .await?;
    Ok((row.try_get("first")?, row.try_get("last")?))
}

/// The chart of `f`, or `None` when nothing matches and the filter has no window.
pub async fn volume(pool: &PgPool, f: &Filter) -> Result<Option<Volume>, QueryError> {
    volume_with(pool, f, &MemoPolicy::DEFAULT).await
}

/// [`volume`] under a memo policy of the caller's (tests bring a memo up to date sooner).
pub async fn volume_with(
    pool: &PgPool,
    f: &Filter,
    policy: &MemoPolicy,
) -> Result<Option<Volume>, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    // One snapshot for every statement: the rollup, the memo and the log agree in it.
    let mut tx = crate::storage::read_only_snapshot(&mut *conn).await?;
    let (head, now) = snapshot::snapshot(&mut tx).await?;
    let bounds = resolve_bounds(&mut tx, f, now).await?;
    let rollup = rollup_for(f);
    let key = memo_key(f);
    let mut archived = 0;
    let mut memoised = None;
    if rollup.is_none() {
        archived = snapshot::archived(&mut tx).await?;
        if let Some(memo) = memo_rows::read(&mut tx, &key, archived).await? {
            memoised = Some(Memoised::Kept { key, memo });
        } else if policy.worth_building(bounds.from, Some(bounds.to.unwrap_or(now))) {
            // Best effort: a build the server stops (its statement timeout, on a very large
            // log) leaves the chart to be counted from the log as without a memo.
            if let Some(hours) = best_effort(&mut tx, f, 0..head).await? {
                memoised = Some(Memoised::Built {
                    memo: Memo::of(head, &hours),
                    hours,
                });
            }
        }
    }
    // Plans chosen once for the filter would not know how few entries follow a memo.
    let persistent = reuse_plan(f) && memoised.is_none();
    // The first and last matching times, where the filter leaves the window open.
    let (mut from, mut to) = (bounds.from, bounds.to);
    if from.is_none() || to.is_none() {
        let (first, last) = match &memoised {
            Some(m) => {
                let memo = m.memo();
                let (new_first, new_last) =
                    first_and_last(&mut tx, f, memo.below_seq..head, &bounds, persistent).await?;
                // The memo's times are of the whole log; inside the window only if they are.
                let first = memo.first_at.filter(|t| bounds.to.is_none_or(|to| *t < to));
                let last = memo
                    .last_at
                    .filter(|t| bounds.from.is_none_or(|from| *t >= from));
                (
                    first.into_iter().chain(new_first).min(),
                    last.into_iter().chain(new_last).max(),
                )
            }
            None => first_and_last(&mut tx, f, 0..head, &bounds, persistent).await?,
        };
        // An open end reaches now, or the last entry when one claims a later time.
        to = to.or_else(|| Some(last.map_or(now, |l| l.max(now)) + Duration::microseconds(1)));
        from = from.or(first);
    }
    let (Some(from), Some(to)) = (from, to) else {
        // Nothing matches: a memo counted here (or brought up to date) says so to the next.
        let write = memo_write(&mut tx, f, memoised, head, archived, policy).await?;
        tx.commit().await?;
        drop(conn);
        if let Some(write) = write {
            keep_memo(pool, &key, write, policy).await;
        }
        return Ok(None);
    };
    let size = bucket_seconds(from, to);
    let hours = whole_hours(from, to, size);
    let mut qb = QueryBuilder::new(
        "SELECT bucket, sum(success)::bigint AS success, sum(failure)::bigint AS failure FROM (",
    );
    // Whole hours from a rollup or a memo, the rest from the log.
    let mut from_log = vec![(0..head, from, to)];
    let mut parts = 0;
    match (rollup, &memoised, hours) {
        (Some(rollup), _, Some((start, end))) => {
            push_from_rollup(&mut qb, f, rollup, size, start, end);
            parts += 1;
            from_log = vec![(0..head, from, start), (0..head, end, to)];
        }
        (None, Some(m), Some((start, end))) => {
            if let Memoised::Kept { key, .. } = m {
                memo_rows::push_hours(&mut qb, key, size, start, end);
                parts += 1;
            }
            from_log = vec![
                (0..head, from, start),
                (m.memo().below_seq..head, start, end),
                (0..head, end, to),
            ];
        }
        _ => {}
    }
    for (seqs, from, to) in from_log {
        if from < to && !seqs.is_empty() {
            if parts > 0 {
                qb.push(" UNION ALL ");
            }
            push_from_log(&mut qb, f, seqs, size, from, to);
            parts += 1;
        }
    }
    qb.push(") AS parts GROUP BY 1 ORDER BY 1");
    let rows = if parts > 0 {
        qb.build()
            .persistent(persistent)
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    let mut counted = std::collections::BTreeMap::new();
    for row in rows {
        let start: DateTime<Utc> = row.try_get("bucket")?;
        counted.insert(start, (row.try_get("success")?, row.try_get("failure")?));
    }
    // A memo counted in this snapshot: its whole hours, added here.
    if let (Some(Memoised::Built { hours: counts, .. }), Some((start, end))) = (&memoised, hours) {
        for h in counts.iter().filter(|h| h.hour >= start && h.hour < end) {
            let b = counted.entry(bucket_start(h.hour, size)).or_insert((0, 0));
            b.0 += h.success;
            b.1 += h.failure;
        }
    }
    let write = memo_write(&mut tx, f, memoised, head, archived, policy).await?;
    tx.commit().await?;
    drop(conn);
    if let Some(write) = write {
        keep_memo(pool, &key, write, policy).await;
    }
    // Every bucket of the window, empty ones included.
    let step = Duration::seconds(size);
    let mut buckets = Vec::new();
    let mut start = bucket_start(from, size);
    while start < to {
        let (success, failure) = counted.remove(&start).unwrap_or((0, 0));
        buckets.push(VolumeBucket {
            start,
            success,
            failure,
        });
        start += step;
    }
    debug_assert!(counted.is_empty(), "an entry outside the chart's window");
    Ok(Some(Volume {
        bucket_seconds: size,
        buckets,
        from,
        to,
    }))
}
