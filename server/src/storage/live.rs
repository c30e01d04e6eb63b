//! The live channel: PostgreSQL announces each committed insert into the log
//! (migrations/0003_live.sql) with the highest `seq` it wrote.

use app::model::AuditEntry;
use sqlx::{postgres::PgListener, FromRow, PgPool};

use super::entries::row_columns;
use super::query::conditions::SEARCH_TEXT;
use crate::domain::entry::record::StoredEntry;

/// The channel the log's insert trigger notifies.
pub const CHANNEL: &str = "trailkeep_entries";

/// A listener on [`CHANNEL`], on its own connection.
pub async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// The highest `seq` a notification announces.
pub fn announced_seq(payload: &str) -> Option<i64> {
    payload.parse().ok()
}

/// A newly committed entry as the live bridge reads it: with its free-text search form,
/// the column PostgreSQL generates with `audit_search_text`, so `q=` matches live exactly as in SQL.
pub struct LiveRow {
    pub entry: AuditEntry,
    pub search_text: String,
}

#[derive(FromRow)]
struct LiveRecord {
    #[sqlx(flatten)]
    row: StoredEntry,
    search_text: String,
}

/// Up to `limit` entries with `seq > after`, in `seq` order.
pub async fn rows_after(
    pool: &PgPool,
    after: i64,
    limit: i64,
) -> Result<Vec<LiveRow>, sqlx::Error> {
    let records: Vec<LiveRecord> = sqlx::query_as(&format!(
        "SELECT {}, {SEARCH_TEXT} AS search_text FROM audit_entries \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
        row_columns()
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(records
        .into_iter()
        .map(|r| LiveRow {
            entry: r.row.into_entry(),
            search_text: r.search_text,
        })
        .collect())
}

/// The highest committed `seq` (-1 for an empty log): seq is gapless from 0.
pub async fn head_seq(pool: &PgPool) -> Result<i64, sqlx::Error> {
    Ok(super::entries::count_all(pool).await? - 1)
}
