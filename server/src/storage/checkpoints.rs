//! The signed checkpoints (migrations/0009, 0010, 0013): every one is kept, a newer one covers
//! at least as many entries, and a row is stored only through `checkpoint_insert`, which checks
//! its size and root against the tree. What is read here is only what the database says:
//! callers verify a note's signature (`domain::integrity::checkpoint`) before they believe it, since the
//! server's role can store a row no key signed.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// One stored checkpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCheckpoint {
    /// The row's own number (a size may be stored more than once: only one row of it is the
    /// log's, the one that verifies).
    pub id: i64,
    pub size: i64,
    pub root: Vec<u8>,
    pub key_id: i64,
    pub note: String,
    pub signed_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, size, root, key_id, note, signed_at";

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
        "SELECT {COLUMNS} FROM checkpoints ORDER BY size DESC, id DESC LIMIT 1"
    ))
    .fetch_optional(db)
    .await
}

/// The rows stored for exactly `size` entries, newest first (at most 100: the caller takes
/// the one that verifies).
pub async fn of_size(
    db: impl sqlx::PgExecutor<'_>,
    size: u64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE size = $1 ORDER BY id DESC LIMIT 100"
    ))
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .fetch_all(db)
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

/// Up to `limit` checkpoints after row `after` (`(size, id)`; `(0, 0)`: the first), in size
/// order (to walk them all in pages).
pub async fn page(
    db: impl sqlx::PgExecutor<'_>,
    after: (u64, i64),
    limit: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE (size, id) > ($1, $2) ORDER BY size, id LIMIT $3"
    ))
    .bind(after.0 as i64)
    .bind(after.1)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Up to `limit` checkpoints before row `before` (`(size, id)`), newest first (to find the
/// newest that verifies).
pub async fn page_before(
    db: impl sqlx::PgExecutor<'_>,
    before: (u64, i64),
    limit: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE (size, id) < ($1, $2) \
         ORDER BY size DESC, id DESC LIMIT $3"
    ))
    .bind(i64::try_from(before.0).unwrap_or(i64::MAX))
    .bind(before.1)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The rows of the smallest sizes at or above `size`, smallest first (at most 100: the caller
/// takes the first that verifies).
pub async fn covering(
    db: impl sqlx::PgExecutor<'_>,
    size: u64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE size >= $1 ORDER BY size, id LIMIT 100"
    ))
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .fetch_all(db)
    .await
}
