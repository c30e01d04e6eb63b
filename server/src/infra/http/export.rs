//! `GET /api/v1/events/export?format=csv|json|ndjson|pdf&<filter>`: parses the request,
//! authorises it (a reader, one of its export places), and streams what `service::export`
//! writes: every matching entry, from one pinned snapshot, while the client reads.

use std::sync::{atomic::Ordering, Arc};

use app::filter::Filter;
use axum::{
    body::{Body, Bytes},
    extract::{RawQuery, State},
    http::{header, Extensions, HeaderMap, HeaderValue},
    response::Response,
};
use serde::Deserialize;
use tokio::sync::mpsc;
use utoipa::IntoParams;

use super::{
    auth::Reader,
    client,
    error::{ApiError, ErrorBody, Refused},
    params, AppState,
};
use crate::domain::export::format::Format;
use crate::service::accounts::Acting;
use crate::service::export::{Ended, Progress};

/// The export's own parameter, beside the filter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// csv, json, ndjson or pdf (PDF: at most 100,000 entries).
    #[param(inline)]
    format: Format,
}

/// Every entry the filter matches, streamed from one snapshot, and recorded as
/// `export.downloaded`.
#[utoipa::path(
    get,
    path = "/api/v1/events/export",
    tag = "query",
    params(
        app::filter::params::FilterQuery,
        ExportQuery,
    ),
    responses(
        (status = 200, description = "Every matching entry, in the filter's order",
         headers(
            ("x-trailkeep-count" = i64, description = "The exact number of entries sent"),
            ("x-trailkeep-checkpoint-size" = i64, description = "The size of the signed checkpoint the entries' proofs lead to (absent before the first is signed): GET /api/v1/integrity/checkpoint?size=N is the checkpoint that travels beside a CSV or NDJSON export"),
            ("x-trailkeep-archived" = String, description = "Present when months of the period were moved out of the database by retention: each month, its entries and seqs, and the archive bundle that holds them (they are not in this export)"),
         ),
         content(
            (String = "text/csv"),
            (crate::domain::export::format::JsonExport = "application/json"),
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
    let ExportQuery { format } = params::parse_pairs(&extra)?;
    let exporter = state.exporter().await.map_err(ApiError::database)?;
    let prepared = exporter.prepare(filter, format).await?;
    let name = prepared.file_name.clone();
    let count = prepared.snapshot.count;
    let checkpoint_size = prepared.cut.note.as_ref().map(|_| prepared.cut.size);
    let archived = crate::domain::export::format::archived_header(
        &crate::service::export::archived_parts(&prepared.snapshot),
    );
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
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    // What the client has taken so far (the floor below which the export is dropped), and
    // whether the export failed: the body then ends in an error at once, whatever is still
    // buffered, so a download is never short yet looks whole.
    let progress = Arc::new(Progress::default());
    let read = progress.clone();
    tokio::spawn(async move {
        if exporter.write(prepared, by, tx, progress).await == Ended::TooSlow {
            super::metrics::export_too_slow();
        }
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
    // The checkpoint the proofs lead to: what travels beside a CSV or NDJSON export.
    if let Some(size) = checkpoint_size {
        h.insert("x-trailkeep-checkpoint-size", HeaderValue::from(size));
    }
    // Months of the period that retention moved to archive bundles: not in this file.
    if !archived.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&archived) {
            h.insert("x-trailkeep-archived", value);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
