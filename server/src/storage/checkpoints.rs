//! The signed checkpoints (migrations/0009_checkpoints.sql): every one is kept, each newer one
//! covers more entries. What is read here is only what the database says: callers verify a
//! note's signature (`domain::checkpoint`) before they believe it.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// One stored checkpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCheckpoint {
    pub size: i64,
    pub root: Vec<u8>,
    pub key_id: i64,
    pub note: String,
    pub signed_at: DateTime<Utc>,
}

const COLUMNS: &str = "size, root, key_id, note, signed_at";

/// Takes the signer's lock for this transaction, if no other process holds it.
pub async fn try_lock_signer(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('trailkeep.checkpoint.signer', 0))",
    )
    .fetch_one(conn)
    .await
}

/// The newest checkpoint, if any.
pub async fn latest(
    db: impl sqlx::PgExecutor<'_>,
) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkpoints ORDER BY size DESC LIMIT 1"
    ))
    .fetch_optional(db)
    .await
}

/// The checkpoint of exactly `size` entries, if one was signed.
pub async fn of_size(
    db: impl sqlx::PgExecutor<'_>,
    size: u64,
) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE size = $1"
    ))
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .fetch_optional(db)
    .await
}

/// Stores a new checkpoint through `checkpoint_insert` (0010_integrity_guards.sql): the
/// database refuses one not newer than the latest, beyond the tree, whose root is not the
/// tree's root at its size, or whose note does not state both.
pub async fn insert(
    conn: &mut PgConnection,
    size: u64,
    root: &[u8; 32],
    key_id: u32,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT checkpoint_insert($1, $2, $3, $4)")
        .bind(size as i64)
        .bind(&root[..])
        .bind(i64::from(key_id))
        .bind(note)
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` checkpoints larger than `after`, in size order (to walk them all in pages).
pub async fn page(
    db: impl sqlx::PgExecutor<'_>,
    after: u64,
    limit: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE size > $1 ORDER BY size LIMIT $2"
    ))
    .bind(after as i64)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Up to `limit` checkpoints smaller than `before`, newest first (to find the newest that
/// verifies).
pub async fn page_before(
    db: impl sqlx::PgExecutor<'_>,
    before: u64,
    limit: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE size < $1 ORDER BY size DESC LIMIT $2"
    ))
    .bind(i64::try_from(before).unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db)
    .await
}
