//! The Merkle tree's rows (migrations/0008_merkle_tree.sql): stored hashes 256 to a
//! `tree_hashes` row, and `tree_state` (size, root). The integrator (`service::tree`) is their
//! only writer, one at a time across every process (an advisory lock held by its transaction);
//! the database refuses any change to a stored hash or a shrinking tree, whoever tries.

use sqlx::{PgConnection, PgPool};

use crate::domain::tree::{Hash, Hashes};

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

/// Writes `made` as the stored hashes from index `first` on, and moves the state to `size`
/// leaves with `root`. A row's old bytes stay its prefix (the database checks it too).
pub async fn extend(
    conn: &mut PgConnection,
    first: u64,
    made: &[Hash],
    size: u64,
    root: Hash,
) -> Result<(), sqlx::Error> {
    let mut index = first;
    let mut rest = made;
    while !rest.is_empty() {
        // Up to the end of the row `index` is in.
        let room = (CHUNK - index % CHUNK) as usize;
        let (part, tail) = rest.split_at(room.min(rest.len()));
        rest = tail;
        let chunk = (index / CHUNK) as i64;
        let bytes: Vec<u8> = part.concat();
        let length: i32 = sqlx::query_scalar(
            "INSERT INTO tree_hashes (chunk, hashes) VALUES ($1, $2) \
             ON CONFLICT (chunk) DO UPDATE SET hashes = tree_hashes.hashes || EXCLUDED.hashes \
             RETURNING length(hashes)",
        )
        .bind(chunk)
        .bind(&bytes)
        .fetch_one(&mut *conn)
        .await?;
        index += part.len() as u64;
        let expected = ((index - 1) % CHUNK + 1) * 32;
        if length as u64 != expected {
            return Err(sqlx::Error::Protocol(format!(
                "tree_hashes row {chunk} holds {length} bytes, expected {expected}"
            )));
        }
    }
    sqlx::query("UPDATE tree_state SET size = $1, root = $2 WHERE singleton")
        .bind(size as i64)
        .bind(&root[..])
        .execute(&mut *conn)
        .await?;
    Ok(())
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
