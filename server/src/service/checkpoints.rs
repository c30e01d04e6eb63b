//! The signer: commits the log to its Merkle tree in signed checkpoints, and refuses to sign a
//! tree that does not extend the latest checkpoint. In every process it runs each interval; an
//! advisory lock lets exactly one sign at a time, and a checkpoint younger than the interval
//! makes the others wait, so several processes sign as one.
//!
//! Before signing, the signer believes nothing it reads: the latest checkpoint's note must
//! verify with this log's key, the tree's root is recomputed from its stored hashes, and a
//! consistency proof from those hashes must link the latest checkpoint to the tree. A tree that
//! is smaller (a restored backup) or different is refused, loudly, and shows in `/readyz`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::checkpoint::{Checkpoint, CheckpointError, SigningKey, VerifierKey};
use crate::domain::tree::{self, Hash, TreeError};
use crate::service::tree::{root_at, TreeReadError};
use crate::storage::{self, checkpoints::StoredCheckpoint};

/// Why the signer will not sign (each is an integrity alarm, or a wrong key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The latest stored checkpoint does not verify with this log's key, or its columns are not
    /// what its note says.
    Unverified { size: u64, why: String },
    /// The tree covers fewer entries than the latest checkpoint (a restored backup?).
    Smaller { tree: u64, checkpoint: u64 },
    /// The tree's stored hashes do not extend the latest checkpoint's tree.
    Inconsistent { tree: u64, checkpoint: u64 },
    /// The stored root is not what the stored hashes give.
    RootMismatch { tree: u64 },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unverified { size, why } => {
                write!(f, "the stored checkpoint of {size} entries: {why}")
            }
            Refusal::Smaller { tree, checkpoint } => write!(
                f,
                "the tree covers {tree} entries, fewer than the checkpoint of {checkpoint} \
                 already signed (was the database restored from a backup?)"
            ),
            Refusal::Inconsistent { tree, checkpoint } => write!(
                f,
                "the tree of {tree} entries does not extend the signed checkpoint of \
                 {checkpoint} entries (entries or stored hashes were changed)"
            ),
            Refusal::RootMismatch { tree } => write!(
                f,
                "the stored root of the tree of {tree} entries is not what its stored hashes give"
            ),
        }
    }
}

impl Refusal {
    /// A short public word for `/readyz` (sizes and reasons stay in the log).
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Unverified { .. } => "checkpoint does not verify",
            Refusal::Smaller { .. } => "tree smaller than the latest checkpoint",
            Refusal::Inconsistent { .. } => "tree inconsistent with the latest checkpoint",
            Refusal::RootMismatch { .. } => "stored root wrong",
        }
    }
}

#[derive(Debug)]
pub enum SignError {
    Db(sqlx::Error),
    Refused(Refusal),
    Key(CheckpointError),
    Tree(TreeError),
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::Db(e) => write!(f, "database: {e}"),
            SignError::Refused(r) => write!(f, "refusing to sign: {r}"),
            SignError::Key(e) => write!(f, "signing: {e}"),
            SignError::Tree(e) => write!(f, "tree: {e}"),
        }
    }
}

impl From<sqlx::Error> for SignError {
    fn from(e: sqlx::Error) -> Self {
        SignError::Db(e)
    }
}

impl From<TreeReadError> for SignError {
    fn from(e: TreeReadError) -> Self {
        match e {
            TreeReadError::Db(e) => SignError::Db(e),
            TreeReadError::Tree(e) => SignError::Tree(e),
            TreeReadError::Beyond(m) => SignError::Tree(TreeError::OutOfRange(m)),
        }
    }
}

/// What one step of the signer did.
#[derive(Debug, PartialEq, Eq)]
pub enum Signed {
    /// A checkpoint of this many entries was signed and stored.
    New(u64),
    /// The tree did not grow since the latest checkpoint.
    NothingNew,
    /// The latest checkpoint is younger than the interval.
    NotYet,
    /// Another process is signing.
    Busy,
}

/// The latest checkpoint's content, after verifying its note with `key` and checking that the
/// stored columns say the same.
fn open(row: &StoredCheckpoint, key: &VerifierKey) -> Result<Checkpoint, Refusal> {
    let unverified = |why: String| Refusal::Unverified {
        size: row.size as u64,
        why,
    };
    let cp = key
        .open(row.note.as_bytes())
        .map_err(|e| unverified(e.to_string()))?;
    if cp.size != row.size as u64 || cp.root[..] != row.root[..] {
        return Err(unverified(
            "its size or root column is not what its signed note says".into(),
        ));
    }
    Ok(cp)
}

/// Checks that the tree of `size` entries whose stored root is `root` is what its stored hashes
/// give and extends `latest` (verified with `key`). Returns the latest checkpoint's content.
async fn check_extends(
    conn: &mut PgConnection,
    key: &VerifierKey,
    latest: Option<&StoredCheckpoint>,
    size: u64,
    root: Hash,
) -> Result<Option<Checkpoint>, SignError> {
    if root_at(&mut *conn, size).await? != root {
        return Err(SignError::Refused(Refusal::RootMismatch { tree: size }));
    }
    let Some(row) = latest else { return Ok(None) };
    let cp = open(row, key).map_err(SignError::Refused)?;
    if size < cp.size {
        return Err(SignError::Refused(Refusal::Smaller {
            tree: size,
            checkpoint: cp.size,
        }));
    }
    let (from, to) = (cp.size, size);
    let indexes = tree::needed(|r| tree::consistency_proof(from, to, r));
    let hashes = storage::tree::hashes(&mut *conn, &indexes).await?;
    let proof = tree::consistency_proof(from, to, &hashes).map_err(SignError::Tree)?;
    tree::check_consistency(&proof, to, root, from, cp.root).map_err(|_| {
        SignError::Refused(Refusal::Inconsistent {
            tree: size,
            checkpoint: cp.size,
        })
    })?;
    Ok(Some(cp))
}

/// One step: signs the tree as it stands if it grew since the latest checkpoint, that one is at
/// least `every` old, and no other process is signing.
pub async fn sign_once(
    pool: &PgPool,
    key: &SigningKey,
    every: Duration,
) -> Result<Signed, SignError> {
    let mut tx = pool.begin().await?;
    if !storage::checkpoints::try_lock_signer(&mut tx).await? {
        return Ok(Signed::Busy);
    }
    // Early answers end the transaction at once (a dropped one ends only when its connection
    // is next used, and would hold the signer's lock until then).
    let latest = storage::checkpoints::latest(&mut *tx).await?;
    if let Some(row) = &latest {
        let age = Utc::now() - row.signed_at;
        if age < chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX) {
            tx.rollback().await?;
            return Ok(Signed::NotYet);
        }
    }
    let (size, root) = storage::tree::state(&mut *tx).await?;
    let previous = check_extends(&mut tx, key.verifier(), latest.as_ref(), size, root).await?;
    if size == 0 || previous.is_some_and(|cp| cp.size == size) {
        tx.rollback().await?;
        return Ok(Signed::NothingNew);
    }
    let note = key
        .sign(&Checkpoint {
            origin: key.verifier().name().to_string(),
            size,
            root,
        })
        .map_err(SignError::Key)?;
    storage::checkpoints::insert(&mut tx, size, &root, key.verifier().id(), &note).await?;
    tx.commit().await?;
    Ok(Signed::New(size))
}

/// Each `every` until `stop` resolves: sign what the tree grew by. A refusal is logged at
/// error level each time it is met (it is an integrity alarm); other errors are retried.
pub async fn run(
    pool: PgPool,
    key: SigningKey,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    // Ticks a little more often than the interval: the checkpoint's age decides.
    let mut tick = tokio::time::interval((every / 4).max(Duration::from_millis(250)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        match sign_once(&pool, &key, every).await {
            Ok(Signed::New(size)) => tracing::debug!(size, "checkpoint signed"),
            Ok(_) => {}
            Err(e @ (SignError::Refused(_) | SignError::Key(_) | SignError::Tree(_))) => {
                tracing::error!(error = %e, "no new checkpoint is signed")
            }
            Err(e) => tracing::warn!(error = %e, "signing a checkpoint failed; retrying"),
        }
    }
}

/// What `/readyz` and the console say of the checkpoints, read from the database so that every
/// process answers alike.
#[derive(Debug, PartialEq, Eq)]
pub enum CheckpointHealth {
    /// Nothing signed yet (an empty log, or the first interval has not passed).
    NoneYet,
    /// The latest checkpoint verifies and the tree extends it.
    Current {
        size: u64,
        signed_at: DateTime<Utc>,
    },
    Refused(Refusal),
}

pub async fn health(pool: &PgPool, key: &VerifierKey) -> Result<CheckpointHealth, SignError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let latest = storage::checkpoints::latest(&mut *tx).await?;
    let (size, root) = storage::tree::state(&mut *tx).await?;
    match check_extends(&mut tx, key, latest.as_ref(), size, root).await {
        Ok(_) => Ok(match latest {
            None => CheckpointHealth::NoneYet,
            Some(row) => CheckpointHealth::Current {
                size: row.size as u64,
                signed_at: row.signed_at,
            },
        }),
        Err(SignError::Refused(r)) => Ok(CheckpointHealth::Refused(r)),
        Err(e) => Err(e),
    }
}

/// Checks every stored checkpoint: its note verifies with `key`, its columns say what its note
/// says, and its root is the root of the stored tree at its size. Call after the stored tree
/// was checked against the entries (`service::tree::verify`). Returns how many were checked,
/// or the first bad one.
pub async fn verify_all(
    pool: &PgPool,
    key: &VerifierKey,
) -> Result<Result<u64, String>, SignError> {
    let mut conn = pool.acquire().await?;
    let (tree_size, _) = storage::tree::state(&mut *conn).await?;
    let mut after = 0u64;
    let mut count = 0u64;
    loop {
        let page = storage::checkpoints::page(&mut *conn, after, 1000).await?;
        if page.is_empty() {
            return Ok(Ok(count));
        }
        for row in &page {
            let cp = match open(row, key) {
                Ok(cp) => cp,
                Err(r) => return Ok(Err(r.to_string())),
            };
            if cp.size > tree_size {
                return Ok(Err(format!(
                    "the checkpoint of {} entries is larger than the tree ({tree_size})",
                    cp.size
                )));
            }
            if root_at(&mut conn, cp.size).await? != cp.root {
                return Ok(Err(format!(
                    "the checkpoint of {} entries: its root is not the tree's at that size",
                    cp.size
                )));
            }
            count += 1;
            after = cp.size;
        }
    }
}

/// Checks that the live tree is consistent with `note`, a checkpoint saved earlier outside the
/// database: it verifies with `key`, the tree covers at least its entries, and the tree's root
/// at its size is its root. Call after the stored tree was checked against the entries.
pub async fn verify_saved(
    pool: &PgPool,
    key: &VerifierKey,
    note: &[u8],
) -> Result<Result<Checkpoint, String>, SignError> {
    let cp = match key.open(note) {
        Ok(cp) => cp,
        Err(e) => return Ok(Err(format!("the saved checkpoint: {e}"))),
    };
    let mut conn = pool.acquire().await?;
    let (size, _) = storage::tree::state(&mut *conn).await?;
    if size < cp.size {
        return Ok(Err(format!(
            "the saved checkpoint covers {} entries but the log's tree only {size}: entries \
             were removed (or the integrator has not caught up: run verify again shortly)",
            cp.size
        )));
    }
    if root_at(&mut conn, cp.size).await? != cp.root {
        return Ok(Err(format!(
            "the log's first {} entries are not the ones the saved checkpoint signed: entries \
             were changed or removed",
            cp.size
        )));
    }
    Ok(Ok(cp))
}
