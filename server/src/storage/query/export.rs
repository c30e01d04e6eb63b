//! An export's reads: its snapshot and exact count fixed before the first byte, then its
//! pages, the same entries in the same order as paging the query API.

use app::filter::Filter;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::storage::pools::{acquire, READS};

use super::counts::count_in;
use super::error::QueryError;
use super::pages::{page_from, Page};
use super::snapshot::{resolve_bounds, snapshot};
use crate::domain::query::cursor::Cursor;
use crate::domain::query::window::Bounds;

/// What an export delivers, fixed before its first byte: the chain position and clock it
/// reads at, its time bounds, and the exact number of entries.
#[derive(Clone, Debug)]
pub struct ExportSnapshot {
    pub seq_limit: i64,
    pub now: DateTime<Utc>,
    pub bounds: Bounds,
    pub count: i64,
    /// The months retention dropped that hold entries of the period: not in the export, but
    /// in the archive named.
    pub archived: Vec<crate::storage::retention::ArchivedMonthRow>,
}

/// Pins what an export of `f` delivers: the entries committed now, or only the first
/// `at_most` of the log (an export cut at a checkpoint holds only entries it proves).
pub async fn export_snapshot(
    pool: &PgPool,
    f: &Filter,
    at_most: Option<u64>,
) -> Result<ExportSnapshot, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let (mut seq_limit, now) = snapshot(&mut conn).await?;
    if let Some(cap) = at_most {
        seq_limit = seq_limit.min(i64::try_from(cap).unwrap_or(i64::MAX));
    }
    let bounds = resolve_bounds(&mut conn, f, now).await?;
    let count = if f.is_everything() {
        // seq is gapless: the snapshot's size, less the archived months
        seq_limit - crate::storage::retention::archived_below(&mut *conn, seq_limit).await?
    } else {
        count_in(&mut conn, f, seq_limit, &bounds, None).await?
    };
    let archived =
        crate::storage::retention::archived_within(&mut *conn, bounds.from, bounds.to).await?;
    Ok(ExportSnapshot {
        seq_limit,
        now,
        bounds,
        count,
        archived,
    })
}

/// The export's next page after `after` (`None`: the first), from its snapshot, in the
/// filter's order: the same entries, in the same order, as paging the query API.
pub async fn export_page(
    pool: &PgPool,
    f: &Filter,
    s: &ExportSnapshot,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Page, sqlx::Error> {
    let mut conn = acquire(pool, &READS).await?;
    page_from(&mut conn, f, s.seq_limit, s.now, &s.bounds, after, limit).await
}

/// The entries of seqs `from..end` (`from` inclusive) that match `f` apart from its time
/// window, in seq order, at most `limit`: an archive bundle's page (its period is a seq range).
pub async fn range_page(
    pool: &PgPool,
    f: &Filter,
    from: i64,
    end: i64,
    limit: i64,
) -> Result<Vec<app::model::AuditEntry>, sqlx::Error> {
    let f = Filter {
        time: app::filter::TimeWindow::All,
        ..f.clone()
    };
    let mut conn = acquire(pool, &READS).await?;
    let mut qb = sqlx::QueryBuilder::new(format!(
        "SELECT {} FROM audit_entries WHERE seq >= ",
        crate::storage::entries::row_columns()
    ));
    qb.push_bind(from).push(" AND seq < ").push_bind(end);
    super::conditions::push_conditions(&mut qb, &f, &Bounds::default());
    qb.push(" ORDER BY seq LIMIT ").push_bind(limit);
    let rows: Vec<crate::domain::entry::record::StoredEntry> = qb
        .build_query_as()
        .persistent(super::conditions::reuse_plan(&f))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(crate::domain::entry::record::StoredEntry::into_entry)
        .collect())
}

/// How many entries of seqs `from..end` match `f` apart from its time window: what a
/// scheduled PDF states on its cover before its first page (the same conditions as
/// [`range_page`]).
pub async fn range_count(
    pool: &PgPool,
    f: &Filter,
    from: i64,
    end: i64,
) -> Result<i64, sqlx::Error> {
    let f = Filter {
        time: app::filter::TimeWindow::All,
        ..f.clone()
    };
    let mut conn = acquire(pool, &READS).await?;
    let mut qb = sqlx::QueryBuilder::new("SELECT count(*) FROM audit_entries WHERE seq >= ");
    qb.push_bind(from).push(" AND seq < ").push_bind(end);
    super::conditions::push_conditions(&mut qb, &f, &Bounds::default());
    qb.build_query_scalar()
        .persistent(super::conditions::reuse_plan(&f))
        .fetch_one(&mut *conn)
        .await
}
