//! Entries over time under a filter (the chart above the table): one grouped read in one
//! snapshot, each bucket counted by status, so the buckets add up to exactly the entries the
//! filter matches. The window is the filter's; without a start (or end), the first (or last)
//! matching entry's time, so no entry falls outside the chart.

use app::filter::Filter;
use app::model::{Volume, VolumeBucket};
use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, QueryBuilder, Row};

use super::conditions::push_conditions;
use super::error::QueryError;
use super::snapshot::{resolve_bounds, snapshot};
use crate::domain::query::volume::{bucket_seconds, bucket_start, origin};
use crate::storage::pools::{acquire, READS};

/// The chart of `f`, or `None` when nothing matches and the filter has no window.
pub async fn volume(pool: &PgPool, f: &Filter) -> Result<Option<Volume>, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let (head, now) = snapshot(&mut conn).await?;
    let bounds = resolve_bounds(&mut conn, f, now).await?;
    // The first and last matching times, where the filter leaves the window open.
    let (mut from, mut to) = (bounds.from, bounds.to);
    if from.is_none() || to.is_none() {
        let mut qb = QueryBuilder::new(
            "SELECT min(occurred_at) AS first, max(occurred_at) AS last FROM audit_entries WHERE seq < ",
        );
        qb.push_bind(head);
        push_conditions(&mut qb, f, &bounds);
        let row = qb.build().fetch_one(&mut *conn).await?;
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
    let mut qb = QueryBuilder::new("SELECT date_bin(make_interval(secs => ");
    qb.push_bind(size as f64)
        .push("), occurred_at, ")
        .push_bind(origin())
        .push(
            ") AS bucket, count(*) FILTER (WHERE status = 'success') AS success, \
             count(*) FILTER (WHERE status <> 'success') AS failure \
             FROM audit_entries WHERE seq < ",
        )
        .push_bind(head);
    push_conditions(&mut qb, f, &bounds);
    qb.push(" GROUP BY 1 ORDER BY 1");
    let rows = qb.build().fetch_all(&mut *conn).await?;
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
