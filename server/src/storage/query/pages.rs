//! Reading entries in a filter's order, a keyset page at a time, from a pinned snapshot; one
//! entry by id; a live stream's backfill.

use app::filter::{Filter, FilterError, Order};
use app::model::{AuditEntry, EntryPage};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::conditions::{order_by, push_conditions, reuse_plan};
use super::error::QueryError;
use super::snapshot::pin;
use crate::domain::entry::record::StoredEntry;
use crate::domain::query::cursor::Cursor;
use crate::domain::query::live_filter::LiveFilter;
use crate::domain::query::window::Bounds;
use crate::storage::entries::row_columns;
use crate::storage::pools::{acquire, READS};

/// One page of results and the cursor for the next, if there is more.
pub struct Page {
    pub entries: Vec<AuditEntry>,
    pub next: Option<Cursor>,
    /// Every entry of the snapshot has a lower `seq`.
    pub seq_limit: i64,
    /// The months retention dropped that hold entries which occurred within the window.
    pub archived: Vec<crate::storage::retention::ArchivedMonthRow>,
}

/// Appends the SQL of one page to `qb` (an empty builder, or one that explains the query).
fn push_page_query(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    bounds: &Bounds,
    seq_limit: i64,
    cursor: Option<Cursor>,
    limit: i64,
) {
    qb.push(format!(
        "SELECT {} FROM audit_entries WHERE seq < ",
        row_columns()
    ));
    qb.push_bind(seq_limit);
    push_conditions(qb, f, bounds);
    if let Some(c) = cursor {
        let cmp = if f.order == Order::Desc { "<" } else { ">" };
        qb.push(format!(" AND (occurred_at, seq) {cmp} ("))
            .push_bind(c.occurred_at)
            .push(", ")
            .push_bind(c.seq)
            .push(")");
    }
    qb.push(order_by(f.order)).push(" LIMIT ").push_bind(limit);
}

/// A page of `limit` entries matching `f` after `cursor` (keyset on occurred_at, seq).
pub async fn page(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
    cursor: Option<Cursor>,
) -> Result<Page, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let (seq_limit, now, bounds) = pin(&mut conn, f, cursor).await?;
    let mut page = page_from(&mut conn, f, seq_limit, now, &bounds, cursor, limit).await?;
    page.archived =
        crate::storage::retention::archived_within(&mut *conn, bounds.from, bounds.to).await?;
    Ok(page)
}

/// The page after `cursor` in a pinned snapshot.
pub(super) async fn page_from(
    conn: &mut PgConnection,
    f: &Filter,
    seq_limit: i64,
    now: DateTime<Utc>,
    bounds: &Bounds,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Page, sqlx::Error> {
    // One row more than asked tells whether there is a next page.
    let mut qb = QueryBuilder::new("");
    push_page_query(&mut qb, f, bounds, seq_limit, cursor, limit + 1);
    let mut rows: Vec<StoredEntry> = qb
        .build_query_as()
        .persistent(reuse_plan(f))
        .fetch_all(conn)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(Cursor {
            occurred_at: last.record.occurred_at,
            seq: last.record.seq,
            seq_limit,
            now,
        }),
        _ => None,
    };
    Ok(Page {
        entries: rows.into_iter().map(StoredEntry::into_entry).collect(),
        next,
        seq_limit,
        archived: Vec::new(),
    })
}

/// A page for a client: the cursor it sent is checked against `key` and the filter, and the
/// next one is signed. The API and the console both page through here.
pub async fn signed_page(
    pool: &PgPool,
    key: &[u8],
    f: &Filter,
    limit: i64,
    cursor: Option<&str>,
) -> Result<EntryPage, QueryError> {
    let canonical = f.to_query_string();
    let cursor = cursor
        .map(|c| Cursor::decode(c, key, &canonical))
        .transpose()
        .map_err(|m| QueryError::Filter(FilterError::new("cursor", m)))?;
    let page = page(pool, f, limit, cursor).await?;
    Ok(EntryPage {
        entries: page.entries,
        next_cursor: page.next.map(|c| c.encode(key, &canonical)),
        snapshot_seq: page.seq_limit - 1,
        archived: page
            .archived
            .into_iter()
            .map(crate::storage::retention::ArchivedMonthRow::into_part)
            .collect(),
    })
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the page query, for the benchmark report (built only
/// with the `bench` feature, never into the product binary).
#[cfg(feature = "bench")]
pub async fn explain_page(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
    cursor: Option<Cursor>,
) -> Result<Vec<String>, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let (seq_limit, _, bounds) = pin(&mut conn, f, cursor).await?;
    let mut qb = QueryBuilder::new("EXPLAIN (ANALYZE, BUFFERS) ");
    push_page_query(&mut qb, f, &bounds, seq_limit, cursor, limit + 1);
    Ok(qb.build_query_scalar().fetch_all(&mut *conn).await?)
}

pub async fn by_id(pool: &PgPool, id: Uuid) -> Result<Option<AuditEntry>, sqlx::Error> {
    let row: Option<StoredEntry> = sqlx::query_as(&format!(
        // Ids live in `entry_ids` (the partitions have no index on them: 0030).
        "SELECT {} FROM audit_entries WHERE seq = (SELECT seq FROM entry_ids WHERE id = $1)",
        row_columns()
    ))
    .bind(id)
    .fetch_optional(&mut *acquire(pool, &READS).await?)
    .await?;
    Ok(row.map(StoredEntry::into_entry))
}

/// Up to `limit` entries matching `f` with `seq > after`, in `seq` order: a live stream's
/// backfill, read in bounded batches.
pub async fn matching_after(
    pool: &PgPool,
    f: &LiveFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {} FROM audit_entries WHERE seq > ",
        row_columns()
    ));
    qb.push_bind(after);
    push_conditions(&mut qb, &f.filter, &f.bounds_at(Utc::now()));
    qb.push(" ORDER BY seq LIMIT ").push_bind(limit);
    let mut conn = acquire(pool, &READS).await?;
    let rows: Vec<StoredEntry> = qb
        .build_query_as()
        .persistent(reuse_plan(&f.filter))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(StoredEntry::into_entry).collect())
}
