//! An export, from the request's filter to the last byte and its record: a checkpoint cut so
//! that every entry it holds is proven, one pinned snapshot read page by page, each JSON or
//! NDJSON entry with its inclusion proof, a reader slower than the floor dropped, and the
//! export recorded in the log as `export.downloaded` (rows delivered, whether it completed).
//! The HTTP handler (`infra::http::export`) only parses, authorises and streams what this
//! writes into its channel; memory stays flat at any count.

use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc,
};
use std::time::Duration;

use app::filter::{Filter, FilterError};
use app::integrity::Proof;
use app::model::{AuditEntry, Source};
use bytes::Bytes;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::domain::export::format::{self as export, ExportHead, Format, ProvenEntry};
use crate::domain::export::report;
use crate::domain::integrity::checkpoint::{SigningKey, VerifierKey};
use crate::service::accounts::Acting;
use crate::service::checkpoints::{self, Memory};
use crate::service::tree::{self, TreeReadError};
use crate::storage::{
    entries,
    query::{self, ExportSnapshot, QueryError},
};

/// Entries read per query: large enough to stream fast, small enough to keep memory flat.
const PAGE: i64 = 2000;

/// The largest piece an export hands to its body at once: the floor sees progress at this
/// grain, and a slow but steady client is never judged by one large page.
const PIECE: usize = 64 * 1024;

/// The floor below which an export's client is dropped, freeing its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportFloor {
    pub bytes_per_second: u64,
    pub window: Duration,
}

impl Default for ExportFloor {
    fn default() -> Self {
        ExportFloor {
            bytes_per_second: 64 * 1024,
            window: Duration::from_secs(15),
        }
    }
}

/// What an export needs of the server: its pools, its keys and its settings.
#[derive(Clone)]
pub struct Exporter {
    /// Where `export.downloaded` is appended and on-demand checkpoints are signed.
    pub pool: PgPool,
    /// Where the entries are read (each statement bounded by a timeout).
    pub reads: PgPool,
    /// The log's verifier key: the export is cut at the newest checkpoint it verifies.
    pub log_key: Option<Arc<VerifierKey>>,
    /// The log's signing key: when held, a checkpoint covering everything committed is signed
    /// first, so every entry the export holds is proven.
    pub signing_key: Option<Arc<SigningKey>>,
    pub signer_memory: Option<Arc<Memory>>,
    /// The site's name on the PDF report's cover.
    pub site_name: String,
    pub floor: ExportFloor,
}

/// An export ready to stream: what it holds, against which checkpoint, under which name.
pub struct Prepared {
    pub filter: Filter,
    pub format: Format,
    pub snapshot: ExportSnapshot,
    pub cut: export::Cut,
    /// `trailkeep-audit-<from>_<to>-<n>.<ext>`.
    pub file_name: String,
}

/// An export's progress as its response body sees it.
#[derive(Default)]
pub struct Progress {
    /// Bytes the client has taken.
    pub taken: AtomicU64,
    /// The export stopped early: the body fails on its next read.
    pub failed: AtomicBool,
}

/// How an export ended, for the handler's metrics.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Completed,
    /// The client read slower than the floor and was dropped.
    TooSlow,
    /// The client went away, or the export failed (logged).
    Stopped,
}

/// Why writing stopped early.
enum Stop {
    /// The client went away: the remaining pages are never queried.
    Gone,
    Db(sqlx::Error),
    Pdf(String),
    /// The stored tree could not give a proof.
    Proof(String),
    /// The client read slower than the floor.
    Slow,
}

/// Where an export's bytes go.
pub type Body = mpsc::Sender<Result<Bytes, std::io::Error>>;

impl Exporter {
    /// Cuts the export and pins its snapshot: when this server holds the key, a checkpoint
    /// covering everything committed now is signed first (rate-limited), and the export is cut
    /// at it: every entry it holds is proven, and those committed after the request are for the
    /// next export. If none can be signed (an integrity alarm), nothing is left out: the newest
    /// entries come unproven. A PDF of more than [`report::MAX_ENTRIES`] is refused.
    pub async fn prepare(&self, filter: Filter, format: Format) -> Result<Prepared, QueryError> {
        let mut covered = false;
        if let Some(key) = &self.signing_key {
            let head = entries::count_all(&self.reads).await?;
            let memory = self.signer_memory.as_deref();
            let wait = Duration::from_secs(3);
            match checkpoints::cover(&self.pool, key, memory, head as u64, wait).await {
                Ok(c) => covered = c,
                Err(e) => {
                    tracing::error!(error = %e, "no checkpoint could be signed for an export")
                }
            }
        }
        let cut = self.cut().await?;
        let at_most = (covered && cut.note.is_some()).then_some(cut.size);
        let snapshot = query::export_snapshot(&self.reads, &filter, at_most).await?;
        if format == Format::Pdf && snapshot.count > report::MAX_ENTRIES {
            return Err(QueryError::Filter(FilterError::new(
                "format",
                format!(
                    "a PDF report holds at most {} entries and this filter matches {}: narrow \
                     the filters, or export CSV or JSON, which have no limit",
                    app::format::thousands(report::MAX_ENTRIES),
                    app::format::thousands(snapshot.count)
                ),
            )));
        }
        let file_name = export::file_name(&snapshot.bounds, snapshot.now, snapshot.count, format);
        Ok(Prepared {
            filter,
            format,
            snapshot,
            cut,
            file_name,
        })
    }

    /// The newest checkpoint that verifies with the log's key, which the export is cut against.
    async fn cut(&self) -> Result<export::Cut, sqlx::Error> {
        let key = self.log_key.as_deref();
        Ok(
            match checkpoints::newest_verified(&self.reads, key).await? {
                None => export::Cut::default(),
                Some(row) => export::Cut {
                    key_id: row.key_id as u32,
                    size: row.size as u64,
                    note: Some(row.note),
                },
            },
        )
    }

    /// Each entry's inclusion proof in the cut's tree, `None` for those newer than it.
    async fn proofs(
        &self,
        cut: &export::Cut,
        entries: &[AuditEntry],
    ) -> Result<Vec<Option<Proof>>, Stop> {
        let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
        tree::inclusions(&self.reads, &seqs, cut.size)
            .await
            .map_err(|e| match e {
                TreeReadError::Db(e) => Stop::Db(e),
                TreeReadError::Tree(e) => Stop::Proof(e.to_string()),
                TreeReadError::Beyond(m) => Stop::Proof(m),
            })
    }

    /// Writes the export into `body` page by page, then records it. An export whose client
    /// reads slower than the floor is dropped (recorded as not completed); any early stop
    /// fails the body instead of ending it, so a download is never short yet looks whole.
    pub async fn write(
        self,
        prepared: Prepared,
        by: Acting,
        body: Body,
        progress: Arc<Progress>,
    ) -> Ended {
        let Prepared {
            filter,
            format,
            snapshot,
            cut,
            ..
        } = prepared;
        let canonical = filter.to_query_string();
        let mut delivered: i64 = 0;
        let work = async {
            if format == Format::Pdf {
                delivered = self.pdf(&filter, &snapshot, &by, &cut, &body).await?;
                return Ok(());
            }
            let send = |bytes: Vec<u8>| {
                let tx = body.clone();
                async move {
                    let bytes = Bytes::from(bytes);
                    for at in (0..bytes.len()).step_by(PIECE) {
                        let piece = bytes.slice(at..bytes.len().min(at + PIECE));
                        tx.send(Ok(piece)).await.map_err(|_| Stop::Gone)?;
                    }
                    Ok(())
                }
            };
            let (from, to) = export::stated_period(&snapshot.bounds);
            let head = ExportHead {
                format_version: export::FORMAT_VERSION,
                generated_at: export::timestamp(&snapshot.now),
                filter: canonical.clone(),
                from,
                to,
                generated_by: by.label(),
                checkpoint: cut.note.clone(),
                archived: archived_parts(&snapshot),
                recorded: None,
            };
            send(prologue(format, &head)).await?;
            let mut after = None;
            let mut proven = 0;
            loop {
                let page = query::export_page(&self.reads, &filter, &snapshot, after, PAGE)
                    .await
                    .map_err(Stop::Db)?;
                let proofs = self.proofs(&cut, &page.entries).await?;
                proven += proofs.iter().filter(|p| p.is_some()).count() as u64;
                let buf = write_page(format, &page.entries, &proofs, cut.size, delivered == 0);
                delivered += page.entries.len() as i64;
                send(buf).await?;
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            send(epilogue(format, delivered as u64, proven)).await
        };
        let outcome: Result<(), Stop> = tokio::select! {
            outcome = work => outcome,
            () = reads_too_slowly(self.floor, &progress.taken, &body) => Err(Stop::Slow),
        };
        let completed = outcome.is_ok();
        let failure = match &outcome {
            Err(Stop::Db(e)) => Some(format!("database error: {e}")),
            Err(Stop::Pdf(e)) => Some(format!("PDF rendering failed: {e}")),
            Err(Stop::Proof(e)) => Some(format!("an inclusion proof failed: {e}")),
            Err(Stop::Slow) => {
                tracing::info!(by = %by.label(), "an export's client read slower than the floor: dropped");
                None
            }
            _ => None,
        };
        if let Some(failure) = failure {
            tracing::error!(%failure, "export stopped");
        }
        let ended = match &outcome {
            Ok(()) => Ended::Completed,
            Err(Stop::Slow) => Ended::TooSlow,
            Err(_) => Ended::Stopped,
        };
        if outcome.is_err() {
            // Fails the response instead of ending it cleanly: the download is visibly broken,
            // never silently short. Never waits on a client that reads nothing.
            progress.failed.store(true, Ordering::Relaxed);
            let _ = body.try_send(Err(std::io::Error::other("export interrupted")));
        }
        let (from, to) = export::resolved_period(&snapshot.bounds, snapshot.now);
        let mut event = by.event("export.downloaded");
        event.record.details = json!({
            "format": format.as_str(),
            "filter": canonical,
            "from": from,
            "to": to,
            "rows": delivered,
            "expected_rows": snapshot.count,
            "completed": completed,
        });
        if !snapshot.archived.is_empty() {
            event.record.details["archived"] = json!(archived_parts(&snapshot));
        }
        if let Err(e) = entries::append(&self.pool, Source::Trailkeep, vec![event]).await {
            tracing::error!(error = %e, "could not record export.downloaded");
        }
        ended
    }

    /// Renders the PDF report page by page as the database hands the entries over and sends each
    /// finished page on at once (memory holds a page of entries and a page of the document, at
    /// any count), and stops as soon as the client has gone (`body` closed). Returns the rows.
    async fn pdf(
        &self,
        filter: &Filter,
        snapshot: &ExportSnapshot,
        by: &Acting,
        cut: &export::Cut,
        body: &Body,
    ) -> Result<i64, Stop> {
        let site = self.site_name.clone();
        // The period and the time of generation in words, in the zone the reader chose.
        let zone = filter.tz.clone().unwrap_or_else(|| "UTC".into());
        let b = &snapshot.bounds;
        let instants: Vec<_> = [Some(snapshot.now), b.from, b.to]
            .into_iter()
            .flatten()
            .collect();
        let walls = query::wall_clocks(&self.reads, &instants, &zone)
            .await
            .map_err(Stop::Db)?;
        let mut walls = walls.into_iter();
        let now_wall = walls.next().unwrap_or_default();
        let period = report::period_words(
            &report::PeriodWalls {
                from: b.from.and_then(|_| walls.next()),
                to: b.to.and_then(|_| walls.next()),
                now: now_wall,
            },
            &zone,
        );
        let generated_at = format!("{} ({zone})", report::moment_words(now_wall));
        let cover = report::Cover {
            site: if site.is_empty() {
                "Trailkeep".into()
            } else {
                site
            },
            filters: filter_words(&self.reads, filter).await.map_err(Stop::Db)?,
            period,
            generated_at,
            generated_by: by.label(),
            count: snapshot.count,
            checkpoint: cut.footer(),
            archived: (!snapshot.archived.is_empty())
                .then(|| export::archived_words(&archived_parts(snapshot))),
        };
        let (pages_tx, pages_rx) = std::sync::mpsc::sync_channel::<Vec<AuditEntry>>(2);
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop_rendering = abandoned.clone();
        // However this future ends (dropped below the read floor too), the renderer stops.
        struct StopOnDrop(Arc<AtomicBool>);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop_on_drop = StopOnDrop(abandoned.clone());
        let out = body.clone();
        let render = tokio::task::spawn_blocking(move || -> Result<(), Stop> {
            let gone = || stop_rendering.load(Ordering::Relaxed).then_some(Stop::Gone);
            let send = |bytes: Vec<u8>| -> Result<(), Stop> {
                if bytes.is_empty() {
                    return Ok(());
                }
                out.blocking_send(Ok(bytes.into())).map_err(|_| Stop::Gone)
            };
            let mut report = report::Report::new(&cover).map_err(Stop::Pdf)?;
            for page in pages_rx {
                if let Some(stop) = gone() {
                    return Err(stop);
                }
                report.add(&page);
                send(report.take())?;
            }
            if let Some(stop) = gone() {
                return Err(stop);
            }
            send(report.finish().map_err(Stop::Pdf)?)
        });
        // Reads the pages and hands them over; any early stop (the client gone, the database)
        // tells the renderer to stop too, rather than finish a report no one will receive.
        let read = async {
            let mut rows = 0;
            let mut after = None;
            loop {
                if body.is_closed() {
                    return Err(Stop::Gone);
                }
                let page = query::export_page(&self.reads, filter, snapshot, after, PAGE)
                    .await
                    .map_err(Stop::Db)?;
                rows += page.entries.len() as i64;
                let pages_tx = pages_tx.clone();
                let entries = page.entries;
                // The renderer may be busy: hand the page over without blocking this task.
                let handed = tokio::task::spawn_blocking(move || pages_tx.send(entries))
                    .await
                    .map_err(|e| Stop::Pdf(e.to_string()))?;
                if handed.is_err() {
                    return Err(Stop::Gone);
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => return Ok(rows),
                }
            }
        }
        .await;
        drop(pages_tx);
        let rows = match read {
            Ok(rows) => rows,
            Err(stop) => {
                abandoned.store(true, Ordering::Relaxed);
                // The renderer's own failure, when that is why the pages stopped.
                return Err(match render.await {
                    Ok(Err(Stop::Pdf(why))) => Stop::Pdf(why),
                    _ => stop,
                });
            }
        };
        render.await.map_err(|e| Stop::Pdf(e.to_string()))??;
        Ok(rows)
    }
}

/// The filter in the console's words (whole categories, "Name <email>", keys by name), as the
/// PDF report's cover states it.
pub(crate) async fn filter_words(
    reads: &PgPool,
    filter: &Filter,
) -> Result<Vec<String>, sqlx::Error> {
    let categories = query::action_facets(reads).await?;
    let mut named = filter.users.clone();
    named.extend(filter.exclude.users.iter().cloned());
    let actors = query::actors_named(reads, &named).await?;
    let key_ids: Vec<uuid::Uuid> = filter
        .source
        .iter()
        .chain(&filter.exclude.sources)
        .filter_map(|s| match s {
            app::model::Source::Key(id) => Some(*id),
            app::model::Source::Trailkeep => None,
        })
        .collect();
    let keys: Vec<app::model::KeyName> = crate::storage::api_keys::names(reads, &key_ids)
        .await?
        .into_iter()
        .map(|(id, name)| app::model::KeyName { id, name })
        .collect();
    let words = app::chips::Words {
        categories: &categories,
        actors: &actors,
        zone: None,
        keys: &keys,
    };
    Ok(app::chips::chips(filter, words)
        .into_iter()
        .map(|c| c.label)
        .collect())
}

/// Resolves when the client has read less than the floor in a window while the export was
/// waiting on it (its channel full): it holds a place that a reader who reads should have.
async fn reads_too_slowly(floor: ExportFloor, taken: &AtomicU64, tx: &Body) {
    let least = floor.bytes_per_second as f64 * floor.window.as_secs_f64();
    let mut before = taken.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(floor.window).await;
        let now = taken.load(Ordering::Relaxed);
        if ((now - before) as f64) < least && tx.capacity() == 0 {
            return;
        }
        before = now;
    }
}

/// The snapshot's archived months, as exports name them.
pub fn archived_parts(snapshot: &ExportSnapshot) -> Vec<app::model::ArchivedPart> {
    snapshot
        .archived
        .iter()
        .cloned()
        .map(crate::storage::retention::ArchivedMonthRow::into_part)
        .collect()
}

/// What precedes the first entry: CSV's header, JSON's head (`head`, which only JSON writes).
pub(crate) fn prologue(format: Format, head: &ExportHead) -> Vec<u8> {
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(export::CSV_COLUMNS)
                .expect("writing to memory");
            w.into_inner().expect("writing to memory")
        }
        Format::Json => {
            let head = serde_json::to_string(head).expect("the head serialises");
            format!(r#"{{"export":{head},"entries":["#).into_bytes()
        }
        Format::Ndjson | Format::Pdf => Vec::new(),
    }
}

/// One page of entries in `format` (`first`: the page that opens the list), each with its
/// proof (`proofs`, in the checkpoint of `checkpoint_size` entries).
pub(crate) fn write_page(
    format: Format,
    entries: &[AuditEntry],
    proofs: &[Option<Proof>],
    checkpoint_size: u64,
    first: bool,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(entries.len() * 512);
    let proven = |i: usize| ProvenEntry {
        entry: &entries[i],
        inclusion_proof: proofs[i].as_ref(),
        checkpoint_size: proofs[i].as_ref().map(|_| checkpoint_size),
    };
    match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(buf);
            for (i, entry) in entries.iter().enumerate() {
                let proof = proofs[i].as_ref();
                w.write_record(export::csv_record(
                    entry,
                    proof,
                    proof.map(|_| checkpoint_size),
                ))
                .expect("writing to memory");
            }
            buf = w.into_inner().expect("writing to memory");
        }
        Format::Json => {
            for i in 0..entries.len() {
                if i > 0 || !first {
                    buf.push(b',');
                }
                serde_json::to_writer(&mut buf, &proven(i)).expect("entries serialise");
            }
        }
        Format::Ndjson => {
            for i in 0..entries.len() {
                serde_json::to_writer(&mut buf, &proven(i)).expect("entries serialise");
                buf.push(b'\n');
            }
        }
        Format::Pdf => unreachable!("PDF reports are rendered whole"),
    }
    buf
}

/// What follows the last entry: JSON's counts. CSV and NDJSON end with their last entry.
pub(crate) fn epilogue(format: Format, count: u64, proven: u64) -> Vec<u8> {
    match format {
        Format::Json => format!(r#"],"count":{count},"proven":{proven}}}"#).into_bytes(),
        Format::Ndjson | Format::Csv | Format::Pdf => Vec::new(),
    }
}
