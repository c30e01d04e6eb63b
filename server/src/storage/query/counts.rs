//! Counting the entries a filter matches: exactly, or up to a cap for the line above the
//! table. The whole log is counted from the chain head (`seq` is gapless).

use app::filter::Filter;
use app::model::MatchCount;
use sqlx::{PgConnection, PgPool, QueryBuilder};

use super::conditions::{push_conditions, reuse_plan};
use super::error::QueryError;
use super::snapshot::{resolve_bounds, snapshot};
use crate::domain::query::window::Bounds;
use crate::storage::pools::{acquire, READS};

/// The exact number of entries matching `f` now.
pub async fn count(pool: &PgPool, f: &Filter) -> Result<i64, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    Ok(count_matching(&mut conn, f, None, None).await?.count)
}

/// Counts entries matching `f` with `seq <= through_seq` (a listing's `snapshot_seq`, so live
/// arrivals after it can be added without counting any twice), stopping past `cap` (then
/// `at_least`: bounded work for the line above the table).
pub async fn count_through(
    pool: &PgPool,
    f: &Filter,
    cap: Option<i64>,
    through_seq: Option<i64>,
) -> Result<MatchCount, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    count_matching(&mut conn, f, cap, through_seq).await
}

/// Counts entries matching `f` in a new snapshot, stopping past `cap` when there is one. The
/// whole log is counted exactly from the chain head.
async fn count_matching(
    conn: &mut PgConnection,
    f: &Filter,
    cap: Option<i64>,
    through_seq: Option<i64>,
) -> Result<MatchCount, QueryError> {
    let (head, now) = snapshot(conn).await?;
    let seq_limit = match through_seq {
        Some(s) => head.min(s.saturating_add(1).max(0)),
        None => head,
    };
    // Resolved first also when nothing is filtered: an unknown `tz` is refused either way.
    let bounds = resolve_bounds(conn, f, now).await?;
    if f.is_everything() {
        // seq is gapless: the chain head is the exact count, less the archived months
        let archived = crate::storage::retention::archived_below(&mut *conn, seq_limit).await?;
        return Ok(MatchCount {
            count: seq_limit - archived,
            at_least: false,
        });
    }
    let n = count_in(conn, f, seq_limit, &bounds, cap).await?;
    Ok(match cap {
        Some(cap) if n > cap => MatchCount {
            count: cap,
            at_least: true,
        },
        _ => MatchCount {
            count: n,
            at_least: false,
        },
    })
}

/// Matching entries below `seq_limit`, counted up to `cap + 1` when there is a cap.
pub(super) async fn count_in(
    conn: &mut PgConnection,
    f: &Filter,
    seq_limit: i64,
    bounds: &Bounds,
    cap: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let mut qb =
        QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM audit_entries WHERE seq < ");
    qb.push_bind(seq_limit);
    push_conditions(&mut qb, f, bounds);
    if let Some(cap) = cap {
        qb.push(" LIMIT ").push_bind(cap + 1);
    }
    qb.push(") AS matching");
    qb.build_query_scalar()
        .persistent(reuse_plan(f))
        .fetch_one(conn)
        .await
}

/// Whether an entry after `after_seq` (a listing's `snapshot_seq`) matches `f` now: the cue
/// that new entries arrived while Live is off. Reads only the entries after it (`seq` order).
pub async fn any_after(pool: &PgPool, f: &Filter, after_seq: i64) -> Result<bool, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let (_, now) = snapshot(&mut conn).await?;
    let bounds = resolve_bounds(&mut conn, f, now).await?;
    let mut qb = QueryBuilder::new("SELECT EXISTS (SELECT 1 FROM audit_entries WHERE seq > ");
    qb.push_bind(after_seq);
    push_conditions(&mut qb, f, &bounds);
    qb.push(")");
    Ok(qb
        .build_query_scalar()
        .persistent(reuse_plan(f))
        .fetch_one(&mut *conn)
        .await?)
}
