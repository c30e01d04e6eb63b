//! The monthly partitions of `audit_entries` (migrations/0030_monthly_partitions.sql): the
//! database makes them, through its owner's `audit_entries_make_partitions()`; the server's
//! role can only ask it to, and read how far ahead they reach.

use sqlx::PgExecutor;

/// Makes the missing partitions from the current month (UTC) through `ahead` months after it;
/// returns how many were made. Safe from several processes at once (an advisory lock inside).
pub async fn make(db: impl PgExecutor<'_>, ahead: i32) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT audit_entries_make_partitions($1)")
        .bind(ahead)
        .fetch_one(db)
        .await
}

/// How many whole months after the current one (UTC) already have their partition, without a
/// gap (at most 24); -1 when the current month has none.
pub async fn months_ahead(db: impl PgExecutor<'_>) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT audit_entries_months_ahead()")
        .fetch_one(db)
        .await
}

/// Whether PostgreSQL refused a row because no partition holds its `recorded_at` month (the
/// keeper has not made it: see [`months_ahead`]). Nothing was stored; retrying once the
/// partition exists succeeds. Told by the error's fields, not its (translatable) words.
pub fn is_missing(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23514")
            && db.table() == Some("audit_entries")
            && db.constraint().is_none())
}
