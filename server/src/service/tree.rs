//! The integrator: extends the Merkle tree over the log, a batch at a time, outside the append
//! path (appends never wait for it). In every process it runs each second; an advisory lock
//! lets exactly one of them work at a time, the others find the work done.
//!
//! It never trusts the `leaf_hash` column: each leaf hash is recomputed from the entry's stored
//! fields (its canonical form), and a mismatch stops integration at that entry, loudly, so a
//! rewritten entry never enters the tree.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};

use app::integrity::{to_hex, Check, Finding, Hash, Place, Proof};

use crate::domain::integrity::tree::{self, TreeError};
use crate::storage;

/// Leaves per transaction.
pub const BATCH: i64 = 4096;

/// Why the integrator added nothing.
#[derive(Debug, thiserror::Error)]
pub enum IntegrateError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The entry's stored fields do not hash to its stored `leaf_hash`.
    #[error(
        "entry {seq}: its stored fields do not hash to its leaf_hash (changed after it \
         was appended?); the tree stops before it"
    )]
    Tampered { seq: u64 },
    /// The tree's math refused its stored hashes.
    #[error("tree: {0}")]
    Tree(#[from] TreeError),
}

/// One step: if no other process is integrating, adds up to [`BATCH`] entries past the tree's
/// size (stopping at the first gap) and commits. Returns how many leaves were added (`None`
/// when another process holds the lock).
pub async fn integrate_once(pool: &PgPool) -> Result<Option<u64>, IntegrateError> {
    let mut tx = pool.begin().await?;
    if !storage::tree::try_lock_integrator(&mut tx).await? {
        return Ok(None);
    }
    let (size, _) = storage::tree::state(&mut *tx).await?;
    let rows = storage::entries::rows_by_seq(&mut *tx, size as i64, size as i64 + BATCH).await?;
    let mut leaves = Vec::with_capacity(rows.len());
    for (k, row) in rows.iter().enumerate() {
        let seq = size + k as u64;
        if row.record.seq as u64 != seq {
            break; // a gap: what follows waits for the next step
        }
        let leaf = row.record.leaf_hash();
        if row.leaf_hash != leaf {
            if leaves.is_empty() {
                return Err(IntegrateError::Tampered { seq });
            }
            break; // integrate what precedes it; the next step reports it
        }
        leaves.push(leaf);
    }
    if leaves.is_empty() {
        tx.rollback().await?; // now, not when the connection is next used: it holds the lock
        return Ok(Some(0));
    }
    let count = leaves.len() as u64;
    // The database computes the new stored hashes from the same leaf_hash column checked above.
    storage::tree::extend_to(&mut tx, size + count).await?;
    tx.commit().await?;
    Ok(Some(count))
}

/// Integrates until caught up (or another process is at it).
pub async fn integrate(pool: &PgPool) -> Result<u64, IntegrateError> {
    let mut total = 0;
    while let Some(n) = integrate_once(pool).await? {
        total += n;
        if n < BATCH as u64 {
            break;
        }
    }
    Ok(total)
}

/// Each second until `stop` resolves: integrate what was appended. Errors are logged (a
/// tampered entry at error level: it stops the tree) and retried the next second.
pub async fn run(pool: PgPool, stop: impl std::future::Future<Output = ()>) {
    let pool = &pool;
    super::periodic::every(Duration::from_secs(1), stop, || async move {
        match integrate(pool).await {
            Ok(_) => {}
            Err(e @ IntegrateError::Tampered { .. }) => {
                tracing::error!(error = %e, "the Merkle tree cannot grow")
            }
            Err(e) => tracing::warn!(error = %e, "integrating the Merkle tree failed; retrying"),
        }
    })
    .await
}

/// What [`verify`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum TreeVerdict {
    /// The stored tree is the one the entries give: its size and root.
    Ok {
        size: u64,
        root: tree::Hash,
    },
    Bad(Finding),
}

/// Recomputes the stored tree from the entries' fields (leaf hashes recomputed, never read;
/// for a month retention dropped, the tree's own stored leaves, proven in its bundle against
/// a checkpoint), batch by batch in one snapshot, and compares every stored hash and the
/// stored root. Memory
/// stays bounded: each batch reads the few earlier hashes it builds on from the database, and
/// those were compared already.
pub async fn verify(pool: &PgPool) -> Result<TreeVerdict, IntegrateError> {
    let mut tx = storage::read_only_snapshot(pool).await?;
    let (size, stored_root) = storage::tree::state(&mut *tx).await?;
    let archived: Vec<(u64, u64)> = storage::retention::archived(&mut *tx)
        .await?
        .iter()
        .map(|a| (a.first_seq as u64, a.end_seq as u64))
        .collect();
    let is_archived = |seq: u64| archived.iter().any(|(a, b)| (*a..*b).contains(&seq));
    let mut at = 0u64;
    let mut root = tree::root(0, &tree::Hashes::default())?;
    while at < size {
        let end = size.min(at + BATCH as u64);
        let rows = storage::entries::rows_by_seq(&mut *tx, at as i64, end as i64).await?;
        // An archived month's leaves are the tree's own stored ones: its entries left the log
        // (they are proven in their bundle, against a checkpoint of this tree).
        let kept: Vec<u64> = (at..end)
            .filter(|s| is_archived(*s))
            .map(tree::first_index)
            .collect();
        let kept = if kept.is_empty() {
            tree::Hashes::default()
        } else {
            match storage::tree::hashes(&mut *tx, &kept).await {
                Ok(h) => h,
                Err(e) => return Ok(TreeVerdict::Bad(Finding::new(Check::Tree, e.to_string()))),
            }
        };
        let mut rows = rows.iter();
        let mut leaves = Vec::with_capacity((end - at) as usize);
        for seq in at..end {
            if is_archived(seq) {
                match kept.get(tree::first_index(seq)) {
                    Some(leaf) => leaves.push(leaf),
                    None => {
                        return Ok(TreeVerdict::Bad(
                            Finding::new(
                                Check::Tree,
                                format!("the archived entry {seq}'s leaf is not in the tree"),
                            )
                            .seq(seq as i64),
                        ))
                    }
                }
                continue;
            }
            match rows.next() {
                Some(row) if row.record.seq as u64 == seq => leaves.push(row.record.leaf_hash()),
                _ => {
                    return Ok(TreeVerdict::Bad(
                        Finding::new(
                            Check::Tree,
                            format!("the tree covers {size} entries but entry {seq} is missing"),
                        )
                        .seq(seq as i64),
                    ))
                }
            }
        }
        let count = leaves.len() as u64;
        let earlier = storage::tree::hashes(&mut *tx, &tree::needed_to_extend(at, count)).await?;
        let (made, new_root) = tree::extend(at, &leaves, &earlier)?;
        let first = tree::first_index(at);
        let indexes: Vec<u64> = (first..first + made.len() as u64).collect();
        let stored = match storage::tree::hashes(&mut *tx, &indexes).await {
            Ok(stored) => stored,
            Err(e) => return Ok(TreeVerdict::Bad(Finding::new(Check::Tree, e.to_string()))),
        };
        for (i, h) in indexes.iter().zip(&made) {
            if stored.get(*i) != Some(*h) {
                return Ok(TreeVerdict::Bad(
                    Finding::new(
                        Check::Tree,
                        format!(
                            "stored hash {i} (of the entries {at}..{}) is not what the entries \
                             give",
                            at + count
                        ),
                    )
                    .differs(
                        to_hex(h),
                        stored.get(*i).map(|s| to_hex(&s)).unwrap_or_default(),
                    ),
                ));
            }
        }
        at += count;
        root = new_root;
    }
    if root != stored_root {
        return Ok(TreeVerdict::Bad(
            Finding::new(
                Check::Tree,
                format!("the stored root of {size} entries is not what the entries give"),
            )
            .at(Place::TreeSize(size))
            .differs(to_hex(&root), to_hex(&stored_root)),
        ));
    }
    Ok(TreeVerdict::Ok { size, root })
}

/// Whether the tree can grow: `Ok` with how many entries it covers, or `Stopped` at the entry
/// whose stored fields no longer give its leaf hash (what [`integrate_once`] refuses). Read from
/// the database, so every process answers alike.
#[derive(Debug, PartialEq, Eq)]
pub enum TreeHealth {
    Ok { size: u64 },
    Stopped { seq: u64 },
}

pub async fn health(pool: &PgPool) -> Result<TreeHealth, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let (size, _) = storage::tree::state(&mut *conn).await?;
    let next = storage::entries::rows_by_seq(&mut *conn, size as i64, size as i64 + 1).await?;
    Ok(match next.first() {
        Some(row) if row.leaf_hash != row.record.leaf_hash() => TreeHealth::Stopped { seq: size },
        _ => TreeHealth::Ok { size },
    })
}

/// A read of the stored tree failed: the database, or a computation (a size beyond the tree, a
/// stored hash missing).
#[derive(Debug, thiserror::Error)]
pub enum TreeReadError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A computation over the stored hashes failed (its words as they are).
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A size beyond the tree as it stands (no such tree yet).
    #[error("{0}")]
    Beyond(String),
}

/// Runs `compute` over the stored hashes it needs: O(log n) of them, fetched first.
async fn over_stored<T>(
    conn: &mut PgConnection,
    compute: impl Fn(&dyn tree::Reader) -> Result<T, TreeError>,
) -> Result<T, TreeReadError> {
    let indexes = tree::needed(&compute);
    let hashes = storage::tree::hashes(&mut *conn, &indexes).await?;
    Ok(compute(&hashes)?)
}

/// The root of the stored tree's first `size` leaves (computed from stored hashes).
pub async fn root_at(conn: &mut PgConnection, size: u64) -> Result<Hash, TreeReadError> {
    over_stored(conn, |r| tree::root(size, r)).await
}

/// Checks that `size` is within the tree as it stands (`what` names the parameter).
async fn within_tree(conn: &mut PgConnection, what: &str, size: u64) -> Result<(), TreeReadError> {
    let (covered, _) = storage::tree::state(&mut *conn).await?;
    if size > covered {
        return Err(TreeReadError::Beyond(format!(
            "{what}: the tree covers {covered} entries so far (a checkpoint's size is always \
             within it)"
        )));
    }
    Ok(())
}

/// Entry `seq`'s leaf hash as the tree holds it, and its inclusion proof in the tree of the
/// first `size` entries.
pub async fn inclusion(
    conn: &mut PgConnection,
    seq: u64,
    size: u64,
) -> Result<(Hash, Proof), TreeReadError> {
    within_tree(conn, "size", size).await?;
    let proof = over_stored(conn, |r| tree::inclusion_proof(seq, size, r)).await?;
    let leaf = storage::tree::hashes(&mut *conn, &[tree::first_index(seq)])
        .await?
        .get(tree::first_index(seq))
        .ok_or(TreeError::Missing(tree::first_index(seq)))?;
    Ok((leaf, Proof(proof)))
}

/// The consistency proof from the tree of `from` entries to the tree of `to` entries.
pub async fn consistency(
    conn: &mut PgConnection,
    from: u64,
    to: u64,
) -> Result<Proof, TreeReadError> {
    within_tree(conn, "to", to).await?;
    over_stored(conn, |r| tree::consistency_proof(from, to, r))
        .await
        .map(Proof)
}

/// The inclusion proofs of entries `seqs` in the tree of the first `size` entries, in their
/// order, `None` for a seq that tree does not hold (newer entries), from one read of the stored
/// hashes they need (an export's page, or the entries the console shows, at a time). Takes a
/// read connection only when there is something to prove.
pub async fn inclusions(
    pool: &PgPool,
    seqs: &[i64],
    size: u64,
) -> Result<Vec<Option<Proof>>, TreeReadError> {
    let held = |seq: i64| (0..size as i64).contains(&seq);
    let covered: Vec<u64> = seqs
        .iter()
        .filter(|s| held(**s))
        .map(|s| *s as u64)
        .collect();
    if covered.is_empty() {
        return Ok(vec![None; seqs.len()]);
    }
    let mut conn = storage::pools::acquire(pool, &storage::pools::READS).await?;
    within_tree(&mut conn, "size", size).await?;
    let proofs = over_stored(&mut conn, |r| {
        covered
            .iter()
            .map(|&seq| tree::inclusion_proof(seq, size, r))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let mut proofs = proofs.into_iter();
    Ok(seqs
        .iter()
        .map(|s| {
            if held(*s) {
                proofs.next().map(Proof)
            } else {
                None
            }
        })
        .collect())
}
