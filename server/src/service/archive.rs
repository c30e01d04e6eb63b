//! One period of a schedule made into an archive bundle (`domain::export::bundle`), from the
//! database to a finished file: the period's seq range (recorded_at never decreases along
//! seq, so it is one range, found by binary search), the checkpoints that cover its first and
//! last entries, its entries page by page with their proofs (staged to a file: memory stays
//! flat at any count), the manifest, and the gzipped tar. The same period gives the same
//! bytes, however often and wherever it is built.
//!
//! Before a period is read, every append that could still land in it has finished: the
//! period has ended by the database's clock, and [`exports::append_barrier`] waits for the
//! chain head's lock, so appends still in flight commit first and later ones are recorded
//! after the period.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use app::filter::Filter;
use app::integrity::{to_hex, Hash, Proof};
use app::model::AuditEntry;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::entry::chain::GENESIS;
use crate::domain::export::bundle::{self, Consistency, Manifest};
use crate::domain::export::format::ProvenEntry;
use crate::domain::export::schedule::Period;
use crate::domain::integrity::checkpoint::{Checkpoint, SigningKey, VerifierKey};
use crate::service::checkpoints::{self, Memory};
use crate::service::tree::{self, TreeReadError};
use crate::storage::{self, entries, exports, query};

/// Entries read per query.
const PAGE: i64 = 2000;

/// Why a bundle could not be made (the run is tried again later).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("writing the bundle failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the period has not ended yet (it ends at {0})")]
    NotEnded(chrono::DateTime<chrono::Utc>),
    #[error("no checkpoint signed by the log's key covers the period's entries yet: {0}")]
    NoCheckpoint(String),
    #[error("a proof could not be read from the stored tree: {0}")]
    Proof(String),
    #[error("the stored log is not as expected: {0}")]
    Log(String),
    /// The period reaches into a month retention dropped.
    #[error("the period cannot be exported from the database: {0}")]
    Archived(String),
    /// The file cannot be made of this period as the schedule asks (a PDF of too many
    /// entries); trying again changes nothing.
    #[error("{0}")]
    Refused(String),
}

impl From<TreeReadError> for ArchiveError {
    fn from(e: TreeReadError) -> Self {
        match e {
            TreeReadError::Db(e) => ArchiveError::Db(e),
            TreeReadError::Tree(e) => ArchiveError::Proof(e.to_string()),
            TreeReadError::Beyond(m) => ArchiveError::Proof(m),
        }
    }
}

/// What making bundles needs of the server.
#[derive(Clone)]
pub struct Archiver {
    /// Where checkpoints are signed on demand and runs are recorded.
    pub pool: PgPool,
    /// Where entries and proofs are read.
    pub reads: PgPool,
    pub log_key: Arc<VerifierKey>,
    pub signing_key: Option<Arc<SigningKey>>,
    pub signer_memory: Option<Arc<Memory>>,
    /// Where bundles are built before they are handed to their destination.
    pub work_dir: PathBuf,
}

/// A finished run's file in the work folder (a bundle, or a CSV, JSON, NDJSON or PDF file:
/// `service::period_file`), and what it holds.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub covered: Covered,
    pub bytes: u64,
    pub sha256: Hash,
    /// What a CSV or NDJSON file states of itself (they hold entries only), stored beside
    /// it as `<name>.head.json`: filter, period, checkpoint, count. `None` for bundles and
    /// JSON, which state it inside, and PDF.
    pub head_beside: Option<crate::domain::export::format::Trailer>,
}

/// What a run's file holds, as its run records it: the period's seqs `[first_seq, end_seq)`,
/// how many of them matched the filter, the checkpoint the proofs lead to, and the chain
/// hash after the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Covered {
    pub period: Period,
    pub first_seq: u64,
    pub end_seq: u64,
    pub count: u64,
    pub checkpoint_size: u64,
    pub chain_hash_after: Hash,
}

/// A period located in the log: its seqs `[first, end)` and the chain hashes around them.
pub(crate) struct Located {
    pub first: i64,
    pub end: i64,
    pub before: Hash,
    pub after: Hash,
}

impl Built {
    /// Deletes the work file (after its destination has taken it, or on failure).
    pub fn discard(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// However a run ends (its task dropped when its lease is lost, mid-upload), its file goes.
impl Drop for Built {
    fn drop(&mut self) {
        self.discard();
    }
}

/// A file in the work folder, deleted when dropped unless kept: a run stopped mid-way (its
/// lease lost, its task dropped while it waited for a blocking write) leaves nothing behind.
pub(crate) struct WorkFile {
    path: PathBuf,
    kept: bool,
}

impl WorkFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        WorkFile { path, kept: false }
    }

    pub(crate) fn write(path: PathBuf, bytes: &[u8]) -> Result<Self, std::io::Error> {
        std::fs::write(&path, bytes)?;
        Ok(WorkFile::new(path))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Hands the file on (to a [`Built`], which deletes it in turn).
    pub(crate) fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for WorkFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The first seq recorded at or after `t` (the log's size when none is).
pub(crate) async fn first_recorded_at_or_after(
    conn: &mut sqlx::PgConnection,
    t: chrono::DateTime<chrono::Utc>,
    size: i64,
) -> Result<i64, ArchiveError> {
    let (mut lo, mut hi) = (0i64, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at = exports::recorded_at(&mut *conn, mid)
            .await?
            .ok_or_else(|| ArchiveError::Log(format!("seq {mid} is missing")))?;
        if at < t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// The chain hash after the entries before `seq` (the genesis hash for 0).
async fn chain_before(conn: &mut sqlx::PgConnection, seq: i64) -> Result<Hash, ArchiveError> {
    if seq == 0 {
        return Ok(GENESIS);
    }
    let h = exports::chain_hash_of(&mut *conn, seq - 1)
        .await?
        .ok_or_else(|| ArchiveError::Log(format!("seq {} is missing", seq - 1)))?;
    h.try_into()
        .map_err(|_| ArchiveError::Log("a chain hash is not 32 bytes".into()))
}

/// Writes through to `inner` and hashes what passes.
pub(crate) struct Hashing<W> {
    pub inner: W,
    pub sha: Sha256,
    pub bytes: u64,
}

impl Hashing<BufWriter<File>> {
    /// A new work file at `path` (never one already there), readable back.
    pub(crate) fn create_new(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Hashing {
            inner: BufWriter::new(file),
            sha: Sha256::new(),
            bytes: 0,
        })
    }

    /// Flushes and syncs what was written: `(file, bytes, sha256)`.
    pub(crate) fn finish(mut self) -> std::io::Result<(File, u64, Hash)> {
        self.flush()?;
        let file = self
            .inner
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        file.sync_all()?;
        Ok((file, self.bytes, self.sha.finalize().into()))
    }
}

/// The entries of seqs `[from, end)` that match a filter, a page at a time in seq order: the
/// one walk over a period that bundles and files share.
pub(crate) struct Pages<'a> {
    reads: &'a PgPool,
    filter: &'a Filter,
    from: i64,
    end: i64,
}

impl<'a> Pages<'a> {
    pub(crate) fn new(reads: &'a PgPool, filter: &'a Filter, (from, end): (i64, i64)) -> Self {
        Pages {
            reads,
            filter,
            from,
            end,
        }
    }

    /// The next page, or `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<AuditEntry>>, ArchiveError> {
        if self.from >= self.end {
            return Ok(None);
        }
        let page = query::range_page(self.reads, self.filter, self.from, self.end, PAGE).await?;
        match page.last() {
            Some(last) => self.from = last.seq + 1,
            None => return Ok(None),
        }
        Ok(Some(page))
    }

    /// The next page with each entry's inclusion proof in the tree of `size` entries; an entry
    /// without one (`size` does not cover it) is an error.
    pub(crate) async fn next_proven(
        &mut self,
        size: u64,
    ) -> Result<Option<(Vec<AuditEntry>, Vec<Option<Proof>>)>, ArchiveError> {
        let Some(page) = self.next().await? else {
            return Ok(None);
        };
        let seqs: Vec<i64> = page.iter().map(|e| e.seq).collect();
        let proofs = tree::inclusions(self.reads, &seqs, size).await?;
        if let Some(i) = proofs.iter().position(Option::is_none) {
            return Err(ArchiveError::Proof(format!("seq {} has no proof", seqs[i])));
        }
        Ok(Some((page, proofs)))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Archiver {
    /// Deletes what an earlier attempt at `run` left in the work folder (a process that died
    /// while building it).
    pub fn discard_work_of(&self, run: Uuid) {
        let prefix = format!("run-{run}-");
        let Ok(dir) = std::fs::read_dir(&self.work_dir) else {
            return;
        };
        for file in dir.flatten() {
            if file.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(file.path());
            }
        }
    }

    /// The smallest checkpoint signed by the log's key that covers `size` entries, with its
    /// note; signs one first when none does yet and this server holds the key.
    pub(crate) async fn covering(&self, size: u64) -> Result<(Checkpoint, String), ArchiveError> {
        for attempt in 0..2 {
            for row in storage::checkpoints::covering(&self.reads, size).await? {
                match self.log_key.open(row.note.as_bytes()) {
                    Ok(cp) => return Ok((cp, row.note)),
                    Err(e) => {
                        tracing::error!(size = row.size, error = %e, "a stored checkpoint does not verify; it is passed over")
                    }
                }
            }
            match (&self.signing_key, attempt) {
                (Some(key), 0) => {
                    let wait = Duration::from_secs(5);
                    let memory = self.signer_memory.as_deref();
                    if let Err(e) = checkpoints::cover(&self.pool, key, memory, size, wait).await {
                        return Err(ArchiveError::NoCheckpoint(e.to_string()));
                    }
                }
                _ => break,
            }
        }
        Err(ArchiveError::NoCheckpoint(format!(
            "none of {size} entries or more is stored and verifies"
        )))
    }

    /// Builds the bundle of `period` of schedule `schedule` with `filter` (canonical, its time
    /// window unused) into a work file named for `run`. `now`: the database's clock.
    pub async fn build(
        &self,
        schedule: Uuid,
        filter: &Filter,
        period: Period,
        run: Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Built, ArchiveError> {
        let Located {
            first,
            end,
            before,
            after,
        } = self.locate(period, now).await?;
        let (checkpoint, note) = self.covering(end as u64).await?;
        let (from, from_note) = self.covering(first as u64).await?;
        let proof = {
            let mut conn = self.reads.acquire().await?;
            tree::consistency(&mut conn, from.size, checkpoint.size).await?
        };
        let consistency = Consistency {
            from_checkpoint: from_note,
            from_size: from.size,
            to_size: checkpoint.size,
            proof,
        };

        let (staged_path, out_path) = self.work_files(run, "tar.gz")?;
        // Both go if this future is dropped before it ends (a lost lease).
        let staged = WorkFile::new(staged_path.clone());
        let out = WorkFile::new(out_path.clone());
        let result = self
            .write(
                schedule,
                filter,
                period,
                (first, end),
                (before, after),
                (&checkpoint, &note),
                &consistency,
                &staged_path,
                &out_path,
            )
            .await;
        drop(staged);
        if result.is_ok() {
            out.keep();
        }
        result
    }

    /// Two new work files of `run`: one to stage entries in, one for the finished file.
    pub(crate) fn work_files(
        &self,
        run: Uuid,
        extension: &str,
    ) -> Result<(PathBuf, PathBuf), ArchiveError> {
        std::fs::create_dir_all(&self.work_dir)?;
        let stem = format!("run-{run}-{}", Uuid::new_v4().simple());
        Ok((
            self.work_dir.join(format!("{stem}.entries")),
            self.work_dir.join(format!("{stem}.{extension}")),
        ))
    }

    /// Where `period` lies in the log, once every append that could land in it has committed
    /// (`now`: the database's clock); refused when it reaches into a month retention dropped.
    pub(crate) async fn locate(
        &self,
        period: Period,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Located, ArchiveError> {
        if period.end > now {
            return Err(ArchiveError::NotEnded(period.end));
        }
        let mut conn = self.pool.acquire().await?;
        exports::append_barrier(&mut conn).await?;
        let size = entries::count_all(&mut *conn).await?;
        let first = first_recorded_at_or_after(&mut conn, period.start, size).await?;
        let end = first_recorded_at_or_after(&mut conn, period.end, size).await?;
        if let Some(a) = storage::retention::archived_meeting(&mut *conn, period.start, period.end)
            .await?
            .first()
        {
            return Err(ArchiveError::Archived(format!(
                "the entries {}..{} recorded in {} were archived to {} ({}) and left the \
                 database: that bundle holds them",
                a.first_seq,
                a.end_seq,
                a.month.format("%Y-%m"),
                a.destination,
                a.location
            )));
        }
        let before = chain_before(&mut conn, first).await?;
        let after = chain_before(&mut conn, end).await?;
        Ok(Located {
            first,
            end,
            before,
            after,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn write(
        &self,
        schedule: Uuid,
        filter: &Filter,
        period: Period,
        (first, end): (i64, i64),
        (before, after): (Hash, Hash),
        (checkpoint, note): (&Checkpoint, &str),
        consistency: &Consistency,
        staged_path: &Path,
        out_path: &Path,
    ) -> Result<Built, ArchiveError> {
        // The entries, staged with their proofs.
        let mut staged = Hashing::create_new(staged_path)?;
        let mut count = 0u64;
        let mut pages = Pages::new(&self.reads, filter, (first, end));
        while let Some((page, proofs)) = pages.next_proven(checkpoint.size).await? {
            let mut buf = Vec::with_capacity(page.len() * 1024);
            for (entry, proof) in page.iter().zip(&proofs) {
                let line = ProvenEntry {
                    entry,
                    inclusion_proof: proof.as_ref(),
                    checkpoint_size: Some(checkpoint.size),
                };
                serde_json::to_writer(&mut buf, &line).map_err(std::io::Error::other)?;
                buf.push(b'\n');
            }
            staged.write_all(&buf)?;
            count += page.len() as u64;
        }
        let (staged_file, entries_bytes, entries_sha) = staged.finish()?;
        let entries_sha = to_hex(&entries_sha);

        let checkpoint_bytes = note.as_bytes().to_vec();
        let consistency_bytes =
            serde_json::to_vec_pretty(consistency).map_err(std::io::Error::other)?;
        let sha = |b: &[u8]| to_hex(&Sha256::digest(b));
        let manifest = Manifest {
            bundle_version: bundle::BUNDLE_VERSION,
            trailkeep_version: env!("CARGO_PKG_VERSION").to_string(),
            schedule_id: schedule,
            filter: filter.to_query_string(),
            period_start: bundle::instant(period.start),
            period_end: bundle::instant(period.end),
            first_seq: first as u64,
            end_seq: end as u64,
            count,
            chain_hash_before: to_hex(&before),
            chain_hash_after: to_hex(&after),
            checkpoint_size: checkpoint.size,
            members: BTreeMap::from([
                (bundle::CHECKPOINT.to_string(), sha(&checkpoint_bytes)),
                (bundle::CONSISTENCY.to_string(), sha(&consistency_bytes)),
                (bundle::ENTRIES.to_string(), entries_sha),
            ]),
        };
        let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;

        // The tar, gzipped, on a blocking thread: compressing a month takes minutes, and the
        // run's lease is renewed by a task that must keep getting its turn meanwhile. The file
        // is created here, so that once this future is dropped (and its work file deleted) the
        // thread can only finish writing a file that no longer has a name.
        let out = Hashing::create_new(out_path)?;
        let (bytes, sha256) = tokio::task::spawn_blocking(move || {
            pack(
                out,
                &checkpoint_bytes,
                &consistency_bytes,
                staged_file,
                entries_bytes,
                &manifest_bytes,
            )
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(Built {
            path: out_path.to_path_buf(),
            covered: Covered {
                period,
                first_seq: manifest.first_seq,
                end_seq: manifest.end_seq,
                count: manifest.count,
                checkpoint_size: manifest.checkpoint_size,
                chain_hash_after: after,
            },
            bytes,
            sha256,
            head_beside: None,
        })
    }
}

/// Writes the bundle's tar, gzipped, to `out`: the members in their names' order, the
/// entries copied from `staged` (its first `entries_bytes`). Its size and SHA-256.
fn pack(
    out: Hashing<BufWriter<File>>,
    checkpoint_bytes: &[u8],
    consistency_bytes: &[u8],
    mut staged: File,
    entries_bytes: u64,
    manifest_bytes: &[u8],
) -> std::io::Result<(u64, Hash)> {
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let small = |tar: &mut tar::Builder<_>, name: &str, bytes: &[u8]| {
        let h = bundle::tar_header(name, bytes.len() as u64);
        tar.append(&h, bytes)
    };
    small(&mut tar, bundle::CHECKPOINT, checkpoint_bytes)?;
    small(&mut tar, bundle::CONSISTENCY, consistency_bytes)?;
    staged.rewind()?;
    let h = bundle::tar_header(bundle::ENTRIES, entries_bytes);
    tar.append(&h, (&mut staged).take(entries_bytes))?;
    small(&mut tar, bundle::MANIFEST, manifest_bytes)?;
    let gz = tar.into_inner()?;
    let (_, bytes, sha256) = gz.finish()?.finish()?;
    Ok((bytes, sha256))
}
