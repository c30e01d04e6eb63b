//! Entries over time under a filter (the chart above the table): grouped reads in one
//! read-only snapshot, each bucket counted by status, so the buckets add up to exactly the
//! entries the filter matches. The window is the filter's; without a start (or end), the first
//! (or last) matching entry's time, so no entry falls outside the chart.
//!
//! Whole hours come from an hourly rollup (migrations/0017_volume_rollups.sql and
//! 0020_resource_and_ip_rollups.sql) when one keeps every field the filter names; the partial
//! hours at the window's edges, and text filters, are counted from the log. The rollups are
//! kept in the appending transaction, so in the one snapshot all agree: the chart stays exact
//! and reads a few rows per value and hour, not every entry.

use app::filter::Filter;
use app::model::{Volume, VolumeBucket};
use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::conditions::{push_conditions, reuse_plan};
use super::error::QueryError;
use super::snapshot::{resolve_bounds, snapshot};
use crate::domain::query::volume::{
    bucket_seconds, bucket_start, origin, rollup_for, whole_hours, Rollup,
};
use crate::domain::query::window::Bounds;
use crate::storage::pools::{acquire, READS};

/// `SELECT bucket, success, failure` of the log's entries matching `f` below `head` in
/// `from..to`, grouped by bucket.
fn push_from_log(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    head: i64,
    size: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    qb.push("SELECT date_bin(make_interval(secs => ")
        .push_bind(size as f64)
        .push("), occurred_at, ")
        .push_bind(origin())
        .push(
            ") AS bucket, count(*) FILTER (WHERE status = 'success') AS success, \
             count(*) FILTER (WHERE status <> 'success') AS failure \
             FROM audit_entries WHERE seq < ",
        )
        .push_bind(head);
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
    qb.push("SELECT date_bin(make_interval(secs => ")
        .push_bind(size as f64)
        .push("), hour, ")
        .push_bind(origin())
        .push(
            ") AS bucket, \
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

/// The chart of `f`, or `None` when nothing matches and the filter has no window.
pub async fn volume(pool: &PgPool, f: &Filter) -> Result<Option<Volume>, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    // One snapshot for every statement: the rollup and the log agree in it.
    let mut tx = crate::storage::read_only_snapshot(&mut *conn).await?;
    let (head, now) = snapshot(&mut tx).await?;
    let bounds = resolve_bounds(&mut tx, f, now).await?;
    // The first and last matching times, where the filter leaves the window open.
    let (mut from, mut to) = (bounds.from, bounds.to);
    if from.is_none() || to.is_none() {
        let mut qb = QueryBuilder::new(
            "SELECT min(occurred_at) AS first, max(occurred_at) AS last FROM audit_entries WHERE seq < ",
        );
        qb.push_bind(head);
        push_conditions(&mut qb, f, &bounds);
        let row = qb
            .build()
            .persistent(reuse_plan(f))
            .fetch_one(&mut *tx)
            .await?;
        let first: Option<DateTime<Utc>> = row.try_get("first")?;
        let last: Option<DateTime<Utc>> = row.try_get("last")?;
        // An open end reaches now, or the last entry when one claims a later time.
        to = to.or_else(|| Some(last.map_or(now, |l| l.max(now)) + Duration::microseconds(1)));
        from = from.or(first);
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Ok(None);
    };
    let size = bucket_seconds(from, to);
    let mut qb = QueryBuilder::new(
        "SELECT bucket, sum(success)::bigint AS success, sum(failure)::bigint AS failure FROM (",
    );
    match rollup_for(f).zip(whole_hours(from, to, size)) {
        Some((rollup, (start, end))) => {
            push_from_rollup(&mut qb, f, rollup, size, start, end);
            if from < start {
                qb.push(" UNION ALL ");
                push_from_log(&mut qb, f, head, size, from, start);
            }
            if end < to {
                qb.push(" UNION ALL ");
                push_from_log(&mut qb, f, head, size, end, to);
            }
        }
        None => push_from_log(&mut qb, f, head, size, from, to),
    }
    qb.push(") AS parts GROUP BY 1 ORDER BY 1");
    let rows = qb
        .build()
        .persistent(reuse_plan(f))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut counted = std::collections::BTreeMap::new();
    for row in rows {
        let start: DateTime<Utc> = row.try_get("bucket")?;
        counted.insert(start, (row.try_get("success")?, row.try_get("failure")?));
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
