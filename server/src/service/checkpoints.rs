//! The signer: commits the log to its Merkle tree in signed checkpoints, and signs only a tree
//! that is the log's: within the chain head, every leaf added since the last checkpoint
//! recomputed from its entry, consistent with the newest checkpoint that verifies under the
//! key and with what this signer signed last (its memory, a file beside the key, outside the
//! database). In every process it runs each interval; an advisory lock lets exactly one sign
//! at a time, and a checkpoint younger than the interval makes the others wait, so several
//! processes sign as one. Exports ask for a checkpoint on demand ([`cover`]).
//!
//! Nothing read from the database is believed on its own: a checkpoint row counts only if its
//! note verifies with the key (the server's role can store rows no key signed: they are an
//! alarm, reported by [`health`], never obeyed); the tree's root is recomputed from its stored
//! hashes. A refusal is logged at error level and shows in `/readyz`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use app::integrity::{Check, Finding, Place};

use crate::domain::integrity::checkpoint::{Checkpoint, CheckpointError, SigningKey, VerifierKey};
use crate::domain::integrity::tree::{self, Hash, TreeError};
use crate::service::tree::{root_at, TreeReadError};
use crate::storage::{self, checkpoints::StoredCheckpoint};

/// Why the signer will not sign (each is an integrity alarm, or a wrong key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The latest stored checkpoint does not verify with this log's key, or its columns are not
    /// what its note says.
    #[error("the stored checkpoint of {size} entries: {why}")]
    Unverified { size: u64, why: String },
    /// The tree covers fewer entries than the latest checkpoint (a restored backup?).
    #[error(
        "the tree covers {tree} entries, fewer than the checkpoint of {checkpoint} \
         already signed (was the database restored from a backup?)"
    )]
    Smaller { tree: u64, checkpoint: u64 },
    /// The tree's stored hashes do not extend the latest checkpoint's tree.
    #[error(
        "the tree of {tree} entries does not extend the signed checkpoint of \
         {checkpoint} entries (entries or stored hashes were changed)"
    )]
    Inconsistent { tree: u64, checkpoint: u64 },
    /// The stored root is not what the stored hashes give.
    #[error("the stored root of the tree of {tree} entries is not what its stored hashes give")]
    RootMismatch { tree: u64 },
    /// The tree covers more entries than the log holds (the chain head).
    #[error("the tree covers {tree} entries but the log holds {log}: leaves were invented")]
    BeyondLog { tree: u64, log: u64 },
    /// A leaf of the tree is not the hash of its entry's stored fields.
    #[error("the tree's leaf {seq} is not the hash of entry {seq}'s stored fields")]
    Leaf { seq: u64 },
    /// The tree does not extend what this signer signed last (its memory beside the key):
    /// rows were cut or rewritten by someone who could switch the database's guards off.
    #[error(
        "the tree of {tree} entries does not extend the checkpoint of {remembered} \
         entries this signer signed last (its memory file): entries were removed or \
         changed by someone able to switch the database's guards off (its owner or a \
         superuser), or the database was restored from a backup"
    )]
    Forgotten { tree: u64, remembered: u64 },
    /// The signer's memory file cannot be read or does not verify with the key.
    #[error("the signer's memory: {0}")]
    Memory(String),
    /// The tree grew but nothing was signed for longer than the signer ever waits: it refuses
    /// (why is in its error log) or is not running.
    #[error(
        "the tree covers {tree} entries but the newest checkpoint, of {checkpoint}, was \
         signed {seconds} s ago: the signer refuses (see its error log) or is not running"
    )]
    Stalled {
        tree: u64,
        checkpoint: u64,
        seconds: i64,
    },
}

impl Refusal {
    /// The refusal as a [`Finding`]: which check failed, where, in the words above.
    pub fn finding(&self) -> Finding {
        let (check, at) = match self {
            Refusal::Unverified { size, .. } => (Check::Signature, Some(Place::TreeSize(*size))),
            Refusal::Smaller { tree, .. } | Refusal::Inconsistent { tree, .. } => {
                (Check::Consistency, Some(Place::TreeSize(*tree)))
            }
            Refusal::RootMismatch { tree } | Refusal::BeyondLog { tree, .. } => {
                (Check::Tree, Some(Place::TreeSize(*tree)))
            }
            Refusal::Leaf { seq } => (Check::LeafHash, Some(Place::Seq(*seq as i64))),
            Refusal::Forgotten { tree, .. } => (Check::Memory, Some(Place::TreeSize(*tree))),
            Refusal::Memory(_) => (Check::Memory, None),
            Refusal::Stalled { tree, .. } => (Check::Stalled, Some(Place::TreeSize(*tree))),
        };
        let mut finding = Finding::new(check, self.to_string());
        finding.at = at;
        finding
    }

    /// A short public word for `/readyz` (sizes and reasons stay in the log).
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Unverified { .. } => "checkpoint does not verify",
            Refusal::Smaller { .. } => "tree smaller than the latest checkpoint",
            Refusal::Inconsistent { .. } => "tree inconsistent with the latest checkpoint",
            Refusal::RootMismatch { .. } => "stored root wrong",
            Refusal::BeyondLog { .. } => "tree larger than the log",
            Refusal::Leaf { .. } => "tree leaf not its entry's hash",
            Refusal::Forgotten { .. } => "tree does not extend the signer's memory",
            Refusal::Memory(_) => "signer's memory unreadable",
            Refusal::Stalled { .. } => "no checkpoint signed although the log grew",
        }
    }
}

/// Why one step of the signer signed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The tree is not the log's, or the key is not this log's: an integrity alarm.
    #[error("refusing to sign: {0}")]
    Refused(Refusal),
    /// The key could not sign (or its note could not be built).
    #[error("signing: {0}")]
    Key(CheckpointError),
    /// The tree's math refused its stored hashes.
    #[error("tree: {0}")]
    Tree(TreeError),
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

/// The signer's memory: the note it signed last, kept in a file beside the key (never in the
/// database), written atomically before the checkpoint row is inserted. Whoever can switch the
/// database's guards off (its owner, a superuser) can rewrite every table, but not this file:
/// the signer refuses to sign a tree that does not extend what it remembers. With several
/// signing hosts, each remembers only what it signed itself.
#[derive(Debug, Clone)]
pub struct Memory {
    path: PathBuf,
}

impl Memory {
    /// `<key file>.last-checkpoint`.
    pub fn beside(key_file: &Path) -> Memory {
        let mut path = key_file.as_os_str().to_owned();
        path.push(".last-checkpoint");
        Memory { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The checkpoint signed last here, verified with `key` (`None` before the first).
    pub fn recall(&self, key: &VerifierKey) -> Result<Option<Checkpoint>, Refusal> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Refusal::Memory(format!("{}: {e}", self.path.display()))),
        };
        key.open(&bytes).map(Some).map_err(|e| {
            Refusal::Memory(format!(
                "{} does not verify with the log's key ({e})",
                self.path.display()
            ))
        })
    }

    /// Replaces the memory with `note`: a temporary file, synced, renamed over the old one,
    /// and the directory synced, so a crash leaves the old note or the new one.
    pub fn remember(&self, note: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(note.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &self.path)?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::File::open(dir)?.sync_all()
    }
}

/// Unverifiable rows passed over before [`newest`] gives up (each is an alarm).
const MAX_UNVERIFIED: usize = 1000;

/// The newest stored checkpoint that verifies with the key, and the newest row above it that
/// does not (reported as an alarm, never obeyed).
#[derive(Debug, Default)]
pub struct Newest {
    pub verified: Option<(StoredCheckpoint, Checkpoint)>,
    pub unverified: Option<Refusal>,
}

/// Reads checkpoints newest first until one verifies with `key`: what exports, the console
/// and the signer build on, so a row the server's role stored without the key never counts.
pub async fn newest(conn: &mut PgConnection, key: &VerifierKey) -> Result<Newest, SignError> {
    let mut found = Newest::default();
    let mut before = (u64::MAX, i64::MAX);
    let mut passed = 0;
    loop {
        let page = storage::checkpoints::page_before(&mut *conn, before, 100).await?;
        if page.is_empty() {
            return Ok(found);
        }
        for row in page {
            match open(&row, key) {
                Ok(cp) => {
                    found.verified = Some((row, cp));
                    return Ok(found);
                }
                Err(refusal) => {
                    found.unverified.get_or_insert(refusal);
                    before = (row.size as u64, row.id);
                    passed += 1;
                }
            }
        }
        if passed >= MAX_UNVERIFIED {
            return Err(SignError::Refused(Refusal::Unverified {
                size: before.0,
                why: format!("{passed} newer checkpoints do not verify either"),
            }));
        }
    }
}

/// How long the tree may grow without a new checkpoint before `health` calls it stalled:
/// three signing intervals, and at least 30 s.
pub fn stale_after(every: Duration) -> Duration {
    (every * 3).max(Duration::from_secs(30))
}

/// The newest checkpoint that verifies with `key` (none without a key): what exports, the
/// console and the checkpoint API serve. An unverifiable newer row is logged as an alarm and
/// passed over, never served.
pub async fn newest_verified(
    pool: &PgPool,
    key: Option<&VerifierKey>,
) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    let Some(key) = key else { return Ok(None) };
    let mut conn = pool.acquire().await?;
    match newest(&mut conn, key).await {
        Ok(found) => {
            if let Some(bad) = found.unverified {
                tracing::error!(error = %bad, "a stored checkpoint does not verify; it is ignored");
            }
            Ok(found.verified.map(|(row, _)| row))
        }
        Err(SignError::Db(e)) => Err(e),
        Err(e) => {
            tracing::error!(error = %e, "no stored checkpoint verifies");
            Ok(None)
        }
    }
}

/// Checks that the tree of `size` entries whose stored root is `root` is what its stored hashes
/// give, lies within the log, and extends both `previous` (the newest checkpoint that
/// verifies) and `remembered` (what this signer signed last).
async fn check_extends(
    conn: &mut PgConnection,
    previous: Option<&Checkpoint>,
    remembered: Option<&Checkpoint>,
    size: u64,
    root: Hash,
) -> Result<(), SignError> {
    if root_at(&mut *conn, size).await? != root {
        return Err(SignError::Refused(Refusal::RootMismatch { tree: size }));
    }
    let log = storage::entries::count_all(&mut *conn).await? as u64;
    if size > log {
        return Err(SignError::Refused(Refusal::BeyondLog { tree: size, log }));
    }
    for (cp, ours) in [(previous, false), (remembered, true)] {
        let Some(cp) = cp else { continue };
        let refusal = |tree: u64, checkpoint: u64| match ours {
            true => Refusal::Forgotten {
                tree,
                remembered: checkpoint,
            },
            false if tree < checkpoint => Refusal::Smaller { tree, checkpoint },
            false => Refusal::Inconsistent { tree, checkpoint },
        };
        if size < cp.size {
            return Err(SignError::Refused(refusal(size, cp.size)));
        }
        let (from, to) = (cp.size, size);
        let indexes = tree::needed(|r| tree::consistency_proof(from, to, r));
        let hashes = storage::tree::hashes(&mut *conn, &indexes).await?;
        let proof = tree::consistency_proof(from, to, &hashes).map_err(SignError::Tree)?;
        tree::check_consistency(&proof, to, root, from, cp.root)
            .map_err(|_| SignError::Refused(refusal(size, cp.size)))?;
    }
    Ok(())
}

/// Checks that the tree's leaves `from..to` are the hashes of those entries' stored fields,
/// recomputed here (the database builds the tree from the `leaf_hash` column, which the
/// server's role writes).
///
/// The entries of a month retention dropped are skipped: their leaves were checked before, and
/// a signed checkpoint covering them existed before the month could go.
async fn check_leaves(conn: &mut PgConnection, from: u64, to: u64) -> Result<(), SignError> {
    let archived: Vec<(u64, u64)> =
        storage::retention::archived_overlapping(&mut *conn, from as i64, to as i64)
            .await?
            .iter()
            .map(|a| (a.first_seq as u64, a.end_seq as u64))
            .collect();
    let is_archived = |seq: u64| archived.iter().any(|(a, b)| (*a..*b).contains(&seq));
    let mut at = from;
    while at < to {
        let end = to.min(at + crate::service::tree::BATCH as u64);
        let rows = storage::entries::rows_by_seq(&mut *conn, at as i64, end as i64).await?;
        let indexes: Vec<u64> = (at..end).map(tree::first_index).collect();
        let leaves = storage::tree::hashes(&mut *conn, &indexes).await?;
        let mut rows = rows.iter();
        for seq in at..end {
            if is_archived(seq) {
                continue;
            }
            let row = rows.next().filter(|r| r.record.seq as u64 == seq);
            match (row, leaves.get(tree::first_index(seq))) {
                (Some(row), Some(leaf)) if row.record.leaf_hash() == leaf => {}
                _ => return Err(SignError::Refused(Refusal::Leaf { seq })),
            }
        }
        at = end;
    }
    Ok(())
}

/// One step: signs the tree as it stands if it grew since the newest checkpoint that
/// verifies, that one is at least `every` old, and no other process is signing. With a
/// `memory`, the tree must also extend what was signed last here, and the new note is
/// remembered before its row is stored.
pub async fn sign_once(
    pool: &PgPool,
    key: &SigningKey,
    every: Duration,
    memory: Option<&Memory>,
) -> Result<Signed, SignError> {
    let mut tx = pool.begin().await?;
    if !storage::checkpoints::try_lock_signer(&mut tx).await? {
        return Ok(Signed::Busy);
    }
    // Early answers end the transaction at once (a dropped one ends only when its connection
    // is next used, and would hold the signer's lock until then).
    let newest = newest(&mut tx, key.verifier()).await?;
    // A row this key did not sign is an alarm (health reports it), never obeyed, and never a
    // reason to stop signing: the server's role can store such rows.
    if let Some(bad) = &newest.unverified {
        tracing::error!(error = %bad, "a stored checkpoint does not verify; it is ignored");
    }
    if let Some((row, _)) = &newest.verified {
        let age = Utc::now() - row.signed_at;
        if age < chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX) {
            tx.rollback().await?;
            return Ok(Signed::NotYet);
        }
    }
    let previous = newest.verified.map(|(_, cp)| cp);
    let remembered = match memory {
        Some(m) => m.recall(key.verifier()).map_err(SignError::Refused)?,
        None => None,
    };
    let (size, root) = storage::tree::state(&mut *tx).await?;
    check_extends(&mut tx, previous.as_ref(), remembered.as_ref(), size, root).await?;
    if size == 0 || previous.as_ref().is_some_and(|cp| cp.size == size) {
        tx.rollback().await?;
        return Ok(Signed::NothingNew);
    }
    check_leaves(&mut tx, previous.as_ref().map_or(0, |cp| cp.size), size).await?;
    let note = key
        .sign(&Checkpoint {
            origin: key.verifier().name().to_string(),
            size,
            root,
        })
        .map_err(SignError::Key)?;
    if let Some(m) = memory {
        m.remember(&note).map_err(|e| {
            SignError::Refused(Refusal::Memory(format!(
                "cannot write {}: {e}",
                m.path().display()
            )))
        })?;
    }
    storage::checkpoints::insert(&mut tx, size, &root, key.verifier().id(), &note).await?;
    tx.commit().await?;
    Ok(Signed::New(size))
}

/// The least time between two checkpoints signed for exports (across processes: the age of
/// the newest checkpoint decides).
pub const ON_DEMAND_EVERY: Duration = Duration::from_secs(1);

/// Brings the newest checkpoint up to at least `head` entries, for an export about to start:
/// integrates the tree and signs (at most one checkpoint per [`ON_DEMAND_EVERY`]), retrying
/// until `wait` has passed. Returns whether a checkpoint now covers `head`.
pub async fn cover(
    pool: &PgPool,
    key: &SigningKey,
    memory: Option<&Memory>,
    head: u64,
    wait: Duration,
) -> Result<bool, SignError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Err(e) = crate::service::tree::integrate(pool).await {
            tracing::warn!(error = %e, "integrating for an export failed");
            return Ok(false);
        }
        sign_once(pool, key, ON_DEMAND_EVERY, memory).await?;
        let covered = newest_verified(pool, Some(key.verifier()))
            .await?
            .is_some_and(|row| row.size as u64 >= head);
        if covered || tokio::time::Instant::now() >= deadline {
            return Ok(covered);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each `every` until `stop` resolves: sign what the tree grew by. A refusal is logged at
/// error level each time it is met (it is an integrity alarm); other errors are retried.
pub async fn run(
    pool: PgPool,
    key: SigningKey,
    every: Duration,
    memory: Option<Memory>,
    stop: impl std::future::Future<Output = ()>,
) {
    // Ticks a little more often than the interval: the checkpoint's age decides.
    let period = (every / 4).max(Duration::from_millis(250));
    let (pool, key, memory) = (&pool, &key, memory.as_ref());
    super::periodic::every(period, stop, || async move {
        match sign_once(pool, key, every, memory).await {
            Ok(Signed::New(size)) => tracing::debug!(size, "checkpoint signed"),
            Ok(_) => {}
            Err(e @ (SignError::Refused(_) | SignError::Key(_) | SignError::Tree(_))) => {
                tracing::error!(error = %e, "no new checkpoint is signed")
            }
            Err(e) => tracing::warn!(error = %e, "signing a checkpoint failed; retrying"),
        }
    })
    .await
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

/// The signer's verdict without signing: the newest rows verify, the tree extends the newest
/// verified checkpoint and what `memory` remembers, and, when the tree grew, a checkpoint was
/// signed within `stale_after` (else the signer refuses or is not running: an alarm).
pub async fn health(
    pool: &PgPool,
    key: &VerifierKey,
    memory: Option<&Memory>,
    stale_after: Option<Duration>,
) -> Result<CheckpointHealth, SignError> {
    let mut tx = storage::read_only_snapshot(pool).await?;
    let verdict = async {
        let newest = newest(&mut tx, key).await?;
        if let Some(bad) = newest.unverified {
            return Err(SignError::Refused(bad));
        }
        let remembered = match memory {
            Some(m) => m.recall(key).map_err(SignError::Refused)?,
            None => None,
        };
        let (size, root) = storage::tree::state(&mut *tx).await?;
        let previous = newest.verified.as_ref().map(|(_, cp)| cp);
        check_extends(&mut tx, previous, remembered.as_ref(), size, root).await?;
        if let (Some((row, cp)), Some(limit)) = (&newest.verified, stale_after) {
            let seconds = (Utc::now() - row.signed_at).num_seconds();
            if size > cp.size && seconds > limit.as_secs() as i64 {
                return Err(SignError::Refused(Refusal::Stalled {
                    tree: size,
                    checkpoint: cp.size,
                    seconds,
                }));
            }
        }
        Ok(newest.verified)
    }
    .await;
    match verdict {
        Ok(None) => Ok(CheckpointHealth::NoneYet),
        Ok(Some((row, _))) => Ok(CheckpointHealth::Current {
            size: row.size as u64,
            signed_at: row.signed_at,
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
) -> Result<Result<u64, Finding>, SignError> {
    let mut conn = pool.acquire().await?;
    let (tree_size, _) = storage::tree::state(&mut *conn).await?;
    let mut after = (0u64, 0i64);
    let mut count = 0u64;
    loop {
        let page = storage::checkpoints::page(&mut *conn, after, 1000).await?;
        if page.is_empty() {
            return Ok(Ok(count));
        }
        for row in &page {
            let cp = match open(row, key) {
                Ok(cp) => cp,
                Err(r) => return Ok(Err(r.finding())),
            };
            let at = Place::TreeSize(cp.size);
            if cp.size > tree_size {
                return Ok(Err(Finding::new(
                    Check::Consistency,
                    format!(
                        "the checkpoint of {} entries is larger than the tree ({tree_size})",
                        cp.size
                    ),
                )
                .at(at)));
            }
            if root_at(&mut conn, cp.size).await? != cp.root {
                return Ok(Err(Finding::new(
                    Check::Consistency,
                    format!(
                        "the checkpoint of {} entries: its root is not the tree's at that size",
                        cp.size
                    ),
                )
                .at(at)));
            }
            count += 1;
            after = (cp.size, row.id);
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
) -> Result<Result<Checkpoint, Finding>, SignError> {
    let cp = match key.open(note) {
        Ok(cp) => cp,
        Err(e) => {
            return Ok(Err(Finding::new(
                Check::Signature,
                format!("the saved checkpoint: {e}"),
            )))
        }
    };
    let mut conn = pool.acquire().await?;
    let (size, _) = storage::tree::state(&mut *conn).await?;
    let at = Place::TreeSize(cp.size);
    if size < cp.size {
        return Ok(Err(Finding::new(
            Check::Consistency,
            format!(
                "the saved checkpoint covers {} entries but the log's tree only {size}: entries \
                 were removed (or the integrator has not caught up: run verify again shortly)",
                cp.size
            ),
        )
        .at(at)));
    }
    if root_at(&mut conn, cp.size).await? != cp.root {
        return Ok(Err(Finding::new(
            Check::Consistency,
            format!(
                "the log's first {} entries are not the ones the saved checkpoint signed: \
                 entries were changed or removed",
                cp.size
            ),
        )
        .at(at)));
    }
    Ok(Ok(cp))
}
