//! `GET /api/v1/events/export?format=csv|json|ndjson&<filter>`: every matching entry, streamed
//! page by page from one pinned snapshot while the client reads, and recorded in the log as
//! `export.downloaded` (rows delivered, whether it completed).

use app::filter::{Filter, FilterError};
use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc,
};

use app::model::Source;
use axum::{
    body::{Body, Bytes},
    extract::{RawQuery, State},
    http::{header, Extensions, HeaderMap, HeaderValue},
    response::Response,
};
use serde_json::json;
use tokio::sync::mpsc;

use super::{
    client::{self, Reader},
    error::{ApiError, ErrorBody, Refused},
    AppState,
};
use crate::domain::{
    export::{self, Format},
    report,
};
use crate::service::accounts::Acting;
use crate::service::tree::{self, TreeReadError};
use crate::storage::{
    entries,
    query::{self, ExportSnapshot},
};

/// Entries read per query: large enough to stream fast, small enough to keep memory flat.
const PAGE: i64 = 2000;

/// Every entry the filter matches, streamed from one snapshot, and recorded as
/// `export.downloaded`.
#[utoipa::path(
    get,
    path = "/api/v1/events/export",
    tag = "query",
    params(
        super::openapi::FilterParams,
        ("format" = inline(super::openapi::ExportFormat), Query, description = "PDF: at most 100,000 entries"),
    ),
    responses(
        (status = 200, description = "Every matching entry, in the filter's order",
         headers(("x-trailkeep-count" = i64, description = "The exact number of entries sent")),
         content(
            (String = "text/csv"),
            (super::openapi::JsonExport = "application/json"),
            (String = "application/x-ndjson"),
            (String = "application/pdf"),
         )),
        Refused,
        (status = 429, description = "Too many exports running (per reader or in all); see Retry-After", body = ErrorBody),
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn download(
    reader: Reader,
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let slot = state.export_slots.take(reader.id())?;
    let (filter, extra) = Filter::parse_with_extra(raw.as_deref().unwrap_or(""), &["format"])?;
    let mut format = None;
    for (_, value) in extra {
        if format.is_some() {
            return Err(FilterError::new("format", "may be given only once").into());
        }
        format = Some(Format::parse(&value).ok_or_else(|| {
            FilterError::new(
                "format",
                format!(
                    "{value:?} is not an export format (one of {})",
                    Format::NAMES
                ),
            )
        })?);
    }
    let format = format
        .ok_or_else(|| FilterError::new("format", format!("required: one of {}", Format::NAMES)))?;
    // When this server holds the key, a checkpoint covering everything committed now is
    // signed first (rate-limited), and the export is cut at it: every entry it holds is
    // proven, and those committed after the request are for the next export. If none can be
    // signed (an integrity alarm), nothing is left out: the newest entries come unproven.
    let mut covered = false;
    if let Some(key) = &state.signing_key {
        let head = entries::count_all(&state.reads)
            .await
            .map_err(ApiError::database)?;
        let memory = state.signer_memory.as_deref();
        let wait = std::time::Duration::from_secs(3);
        match crate::service::checkpoints::cover(&state.pool, key, memory, head as u64, wait).await
        {
            Ok(c) => covered = c,
            Err(e) => tracing::error!(error = %e, "no checkpoint could be signed for an export"),
        }
    }
    let cut = cut(&state).await.map_err(ApiError::database)?;
    let at_most = (covered && cut.note.is_some()).then_some(cut.size);
    let snapshot = query::export_snapshot(&state.reads, &filter, at_most).await?;
    if format == Format::Pdf && snapshot.count > report::MAX_ENTRIES {
        return Err(FilterError::new(
            "format",
            format!(
                "a PDF report holds at most {} entries and this filter matches {}: narrow the \
                 filters, or export CSV or JSON, which have no limit",
                app::format::thousands(report::MAX_ENTRIES),
                app::format::thousands(snapshot.count)
            ),
        )
        .into());
    }
    let name = export::file_name(&snapshot.bounds, snapshot.now, snapshot.count, format);

    let by = match &reader {
        Reader::User(user) => Acting::user(
            user,
            client::ip(&state, &headers, &extensions),
            client::user_agent(&headers),
        ),
        Reader::Key(key) => Acting::key(
            key,
            client::ip(&state, &headers, &extensions),
            client::user_agent(&headers),
        ),
    };
    let count = snapshot.count;
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    // What the client has taken so far (the floor below which the export is dropped), and
    // whether the export failed: the body then ends in an error at once, whatever is still
    // buffered, so a download is never short yet looks whole.
    let progress = Arc::new(Progress::default());
    let read = progress.clone();
    tokio::spawn(async move {
        write(state, filter, snapshot, cut, format, by, tx, progress).await;
        drop(slot);
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| {
        if read.failed.load(Ordering::Relaxed) {
            return std::task::Poll::Ready(Some(Err(std::io::Error::other("export interrupted"))));
        }
        let next = rx.poll_recv(cx);
        if let std::task::Poll::Ready(Some(Ok(bytes))) = &next {
            read.taken.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        next
    }));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
            .expect("file names are ASCII"),
    );
    // The exact number of entries, for progress bars.
    h.insert("x-trailkeep-count", HeaderValue::from(count));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
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

/// The newest checkpoint that verifies with the log's key, which the export is cut against.
async fn cut(state: &AppState) -> Result<export::Cut, sqlx::Error> {
    let key = state.log_key.as_deref();
    Ok(
        match crate::service::checkpoints::newest_verified(&state.reads, key).await? {
            None => export::Cut::default(),
            Some(row) => export::Cut {
                key_id: row.key_id as u32,
                size: row.size as u64,
                note: Some(row.note),
            },
        },
    )
}

/// Each entry's inclusion proof in the cut's tree (hex), `None` for those newer than it.
async fn proofs(
    state: &AppState,
    cut: &export::Cut,
    entries: &[app::model::AuditEntry],
) -> Result<Vec<Option<Vec<String>>>, Stop> {
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    let proofs = tree::inclusions(&state.reads, &seqs, cut.size)
        .await
        .map_err(|e| match e {
            TreeReadError::Db(e) => Stop::Db(e),
            TreeReadError::Tree(e) => Stop::Proof(e.to_string()),
            TreeReadError::Beyond(m) => Stop::Proof(m),
        })?;
    Ok(proofs
        .into_iter()
        .map(|p| p.map(|p| p.iter().map(hex::encode).collect()))
        .collect())
}

/// Renders the PDF report page by page as the database hands the entries over and sends each
/// finished page on at once (memory holds a page of entries and a page of the document, at
/// any count), and stops as soon as the client has gone (`body` closed). Returns the rows.
async fn pdf(
    state: &AppState,
    filter: &Filter,
    snapshot: &ExportSnapshot,
    by: &Acting,
    site: String,
    cut: &export::Cut,
    body: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<i64, Stop> {
    let period = {
        let day = |t: chrono::DateTime<chrono::Utc>| export::timestamp(&t);
        let from = snapshot
            .bounds
            .from
            .map(day)
            .unwrap_or_else(|| "the first entry".into());
        let to = day(export::last_instant(&snapshot.bounds, snapshot.now));
        format!("{from} to {to}")
    };
    // The filters in the console's words (whole categories, "Name <email>").
    let categories = query::action_facets(&state.reads).await.map_err(Stop::Db)?;
    let actors = query::actors_named(&state.reads, &filter.users)
        .await
        .map_err(Stop::Db)?;
    let words = app::chips::Words {
        categories: &categories,
        actors: &actors,
        zone: None,
    };
    let cover = report::Cover {
        site: if site.is_empty() {
            "Trailkeep".into()
        } else {
            site
        },
        filters: app::chips::chips(filter, words)
            .into_iter()
            .map(|c| c.label)
            .collect(),
        period,
        generated_at: export::timestamp(&snapshot.now),
        generated_by: by.label(),
        count: snapshot.count,
        checkpoint: cut.footer(),
    };
    let (pages_tx, pages_rx) = std::sync::mpsc::sync_channel::<Vec<app::model::AuditEntry>>(2);
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
            let page = query::export_page(&state.reads, filter, snapshot, after, PAGE)
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

/// An export's progress as its response body sees it.
#[derive(Default)]
struct Progress {
    /// Bytes the client has taken.
    taken: AtomicU64,
    /// The export stopped early: the body fails on its next read.
    failed: AtomicBool,
}

/// The largest piece an export hands to its body at once: the floor sees progress at this
/// grain, and a slow but steady client is never judged by one large page.
const PIECE: usize = 64 * 1024;

/// Resolves when the client has read less than the floor in a window while the export was
/// waiting on it (its channel full): it holds a place that a reader who reads should have.
async fn reads_too_slowly(
    floor: crate::infra::config::ExportFloor,
    taken: &AtomicU64,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
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

/// Writes the export into `tx` page by page, then records it. An export whose client reads
/// slower than the floor is dropped (recorded as not completed).
#[allow(clippy::too_many_arguments)]
async fn write(
    state: AppState,
    filter: Filter,
    snapshot: ExportSnapshot,
    cut: export::Cut,
    format: Format,
    by: Acting,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    progress: Arc<Progress>,
) {
    let canonical = filter.to_query_string();
    let mut delivered: i64 = 0;
    let site = state.config.site_name.clone();
    let floor = state.config.export_floor;
    let work = async {
        if format == Format::Pdf {
            delivered = pdf(&state, &filter, &snapshot, &by, site, &cut, &tx).await?;
            return Ok(());
        }
        let send = |bytes: Vec<u8>| {
            let tx = tx.clone();
            async move {
                let bytes = Bytes::from(bytes);
                for at in (0..bytes.len()).step_by(PIECE) {
                    let piece = bytes.slice(at..bytes.len().min(at + PIECE));
                    tx.send(Ok(piece)).await.map_err(|_| Stop::Gone)?;
                }
                Ok(())
            }
        };
        send(prologue(format, &canonical, &snapshot, &cut, &by)).await?;
        let mut after = None;
        let mut proven = 0;
        loop {
            let page = query::export_page(&state.reads, &filter, &snapshot, after, PAGE)
                .await
                .map_err(Stop::Db)?;
            let proofs = match format {
                Format::Json | Format::Ndjson => proofs(&state, &cut, &page.entries).await?,
                Format::Csv | Format::Pdf => Vec::new(),
            };
            proven += proofs.iter().filter(|p| p.is_some()).count() as i64;
            let buf = write_page(format, &page.entries, &proofs, delivered == 0);
            delivered += page.entries.len() as i64;
            send(buf).await?;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let period = export::stated_period(&snapshot.bounds);
        send(epilogue(
            format, &canonical, &period, &cut, delivered, proven,
        ))
        .await
    };
    let outcome: Result<(), Stop> = tokio::select! {
        outcome = work => outcome,
        () = reads_too_slowly(floor, &progress.taken, &tx) => Err(Stop::Slow),
    };
    let completed = outcome.is_ok();
    let failure = match &outcome {
        Err(Stop::Db(e)) => Some(format!("database error: {e}")),
        Err(Stop::Pdf(e)) => Some(format!("PDF rendering failed: {e}")),
        Err(Stop::Proof(e)) => Some(format!("an inclusion proof failed: {e}")),
        Err(Stop::Slow) => {
            super::metrics::export_too_slow();
            tracing::info!(by = %by.label(), "an export's client read slower than the floor: dropped");
            None
        }
        _ => None,
    };
    if let Some(failure) = failure {
        tracing::error!(%failure, "export stopped");
    }
    if outcome.is_err() {
        // Fails the response instead of ending it cleanly: the download is visibly broken,
        // never silently short. Never waits on a client that reads nothing.
        progress.failed.store(true, Ordering::Relaxed);
        let _ = tx.try_send(Err(std::io::Error::other("export interrupted")));
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
    if let Err(e) = entries::append(&state.pool, Source::Trailkeep, vec![event]).await {
        tracing::error!(error = ?e, "could not record export.downloaded");
    }
}

fn prologue(
    format: Format,
    canonical: &str,
    snapshot: &ExportSnapshot,
    cut: &export::Cut,
    by: &Acting,
) -> Vec<u8> {
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(export::CSV_COLUMNS)
                .expect("writing to memory");
            w.into_inner().expect("writing to memory")
        }
        Format::Json => {
            let (from, to) = export::stated_period(&snapshot.bounds);
            let head = json!({
                "format_version": export::FORMAT_VERSION,
                "generated_at": export::timestamp(&snapshot.now),
                "filter": canonical,
                "from": from,
                "to": to,
                "generated_by": by.label(),
                "checkpoint": cut.note,
            });
            format!(r#"{{"export":{head},"entries":["#).into_bytes()
        }
        Format::Ndjson | Format::Pdf => Vec::new(),
    }
}

/// One page of entries in `format` (`first`: the page that opens the list), JSON and NDJSON
/// entries with their `proofs`.
fn write_page(
    format: Format,
    entries: &[app::model::AuditEntry],
    proofs: &[Option<Vec<String>>],
    first: bool,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(entries.len() * 512);
    match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(buf);
            for entry in entries {
                w.write_record(export::csv_record(entry))
                    .expect("writing to memory");
            }
            buf = w.into_inner().expect("writing to memory");
        }
        Format::Json => {
            for (i, (entry, proof)) in entries.iter().zip(proofs).enumerate() {
                if i > 0 || !first {
                    buf.push(b',');
                }
                serde_json::to_writer(&mut buf, &proven(entry, proof)).expect("entries serialise");
            }
        }
        Format::Ndjson => {
            for (entry, proof) in entries.iter().zip(proofs) {
                serde_json::to_writer(&mut buf, &proven(entry, proof)).expect("entries serialise");
                buf.push(b'\n');
            }
        }
        Format::Pdf => unreachable!("PDF reports are rendered whole"),
    }
    buf
}

fn proven<'a>(
    entry: &'a app::model::AuditEntry,
    proof: &Option<Vec<String>>,
) -> export::ProvenEntry<'a> {
    export::ProvenEntry {
        entry,
        inclusion_proof: proof.clone(),
    }
}

fn epilogue(
    format: Format,
    canonical: &str,
    period: &(Option<String>, Option<String>),
    cut: &export::Cut,
    count: i64,
    proven: i64,
) -> Vec<u8> {
    match format {
        Format::Json => format!(r#"],"count":{count},"proven":{proven}}}"#).into_bytes(),
        Format::Ndjson => {
            let mut line =
                export::ndjson_trailer(canonical, period, cut, count, proven).to_string();
            line.push('\n');
            line.into_bytes()
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(export::csv_footer(cut))
                .expect("writing to memory");
            w.into_inner().expect("writing to memory")
        }
        Format::Pdf => Vec::new(),
    }
}
