//! The Merkle tree's rows (migrations/0008_merkle_tree.sql): stored hashes 256 to a
//! `tree_hashes` row, and `tree_state` (size, root). Only the database writes them, through
//! `tree_extend` (0010_integrity_guards.sql), which the integrator (`service::tree`) calls one at
//! a time across every process (an advisory lock held by its transaction); the database
//! refuses any change to a stored hash or a shrinking tree, whoever tries.

use sqlx::{PgConnection, PgPool};

use crate::domain::integrity::tree::{Hash, Hashes};

/// Stored hashes per `tree_hashes` row.
pub const CHUNK: u64 = 256;

/// Takes the integrator's lock for this transaction, if no other process holds it.
pub async fn try_lock_integrator(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('trailkeep.tree.integrator', 0))",
    )
    .fetch_one(conn)
    .await
}

/// How many leaves the tree covers, and its root.
pub async fn state(db: impl sqlx::PgExecutor<'_>) -> Result<(u64, Hash), sqlx::Error> {
    let (size, root): (i64, Vec<u8>) =
        sqlx::query_as("SELECT size, root FROM tree_state WHERE singleton")
            .fetch_one(db)
            .await?;
    let root = root
        .try_into()
        .map_err(|_| sqlx::Error::Protocol("tree_state.root is not 32 bytes".into()))?;
    Ok((size as u64, root))
}

/// The stored hashes at `indexes` (an error names one that is not stored).
pub async fn hashes(db: impl sqlx::PgExecutor<'_>, indexes: &[u64]) -> Result<Hashes, sqlx::Error> {
    let mut chunks: Vec<i64> = indexes.iter().map(|i| (i / CHUNK) as i64).collect();
    chunks.dedup();
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT chunk, hashes FROM tree_hashes WHERE chunk = ANY($1)")
            .bind(&chunks)
            .fetch_all(db)
            .await?;
    let rows: std::collections::HashMap<i64, Vec<u8>> = rows.into_iter().collect();
    let mut out = Hashes::default();
    for &i in indexes {
        let at = ((i % CHUNK) * 32) as usize;
        let hash = rows
            .get(&((i / CHUNK) as i64))
            .and_then(|bytes| bytes.get(at..at + 32))
            .ok_or_else(|| sqlx::Error::Protocol(format!("stored hash {i} is missing")))?;
        out.insert(i, hash.try_into().expect("32 bytes"));
    }
    Ok(out)
}

/// Extends the tree to `target` leaves. The database computes every new stored hash and the
/// root itself from the entries' `leaf_hash` column, never past the chain head
/// (`tree_extend`, migrations/0010_integrity_guards.sql): the server's role can ask the tree to
/// grow, not say what it holds. Returns the tree's size.
pub async fn extend_to(conn: &mut PgConnection, target: u64) -> Result<u64, sqlx::Error> {
    let size: i64 = sqlx::query_scalar("SELECT tree_extend($1)")
        .bind(i64::try_from(target).unwrap_or(i64::MAX))
        .fetch_one(conn)
        .await?;
    Ok(size as u64)
}

/// Every stored hash, in order (for `verify` and tests).
pub async fn all_hashes(pool: &PgPool) -> Result<Vec<Hash>, sqlx::Error> {
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT hashes FROM tree_hashes ORDER BY chunk")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .flat_map(|r| r.chunks_exact(32).map(|h| h.try_into().expect("32 bytes")))
        .collect())
}
