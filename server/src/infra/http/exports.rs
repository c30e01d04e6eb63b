//! Scheduled exports as the API reads them: the schedules, the history of runs (newest first,
//! a page at a time), and an object of the history downloaded from its directory (recorded as
//! `export.downloaded`, with the run, the object's SHA-256 and whether every byte went out).
//! Readers only (admins and compliance officers, keys with scope `read`); changing schedules is
//! the console's (admins).

use app::exports::{ExportRun, ExportSchedule};
use app::model::Source;
use axum::{
    body::{Body, Bytes},
    extract::{Path, State},
    http::{header, Extensions, HeaderMap, HeaderValue, StatusCode},
    response::Response,
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    auth::Reader,
    client,
    error::{ApiError, ErrorBody, Refused},
    params::Params,
    AppState,
};
use crate::service::accounts::Acting;
use crate::service::schedules;
use crate::storage::{entries, exports};

fn acting(
    state: &AppState,
    reader: &Reader,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Acting {
    let ip = client::ip(state, headers, extensions);
    let agent = client::user_agent(headers);
    match reader {
        Reader::User(user) => Acting::user(user, ip, agent),
        Reader::Key(key) => Acting::key(key, ip, agent),
    }
}

fn uuid_param(text: &str, name: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text)
        .map_err(|_| ApiError::bad_request(format!("{name}: must be a UUID")).with_param(name))
}

/// The export schedules, by name.
#[utoipa::path(
    get,
    path = "/api/v1/exports/schedules",
    tag = "exports",
    responses(
        (status = 200, description = "Every schedule that is not deleted", body = Vec<ExportSchedule>),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn list_schedules(
    _: Reader,
    State(state): State<AppState>,
) -> Result<Json<Vec<ExportSchedule>>, ApiError> {
    let now = exports::clock(&state.reads)
        .await
        .map_err(ApiError::database)?;
    let list = schedules::list(&state.reads, now)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(list))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Only this schedule's runs (its UUID).
    #[param(value_type = Option<uuid::Uuid>)]
    schedule: Option<String>,
    /// Runs older than this one (its UUID): the `next` of the previous page.
    #[param(value_type = Option<uuid::Uuid>)]
    before: Option<String>,
    /// Default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of the history.
#[derive(Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<ExportRun>,
    /// The `before` of the next page, when there is one.
    pub next: Option<Uuid>,
}

/// Every run, scheduled or asked for, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/exports/runs",
    tag = "exports",
    params(RunsQuery),
    responses(
        (status = 200, description = "A page of runs, newest first", body = RunPage),
        (status = 404, description = "No such run to page from", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn list_runs(
    _: Reader,
    State(state): State<AppState>,
    Params(q): Params<RunsQuery>,
) -> Result<Json<RunPage>, ApiError> {
    let schedule = q
        .schedule
        .as_deref()
        .map(|s| uuid_param(s, "schedule"))
        .transpose()?;
    let before = q
        .before
        .as_deref()
        .map(|b| uuid_param(b, "before"))
        .transpose()?;
    let limit = q.limit.unwrap_or(50);
    let mut runs = schedules::history(&state.reads, schedule, before, limit + 1)
        .await
        .map_err(ApiError::database)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no export run with that id to page from",
            )
            .with_param("before")
        })?;
    let next = (runs.len() as i64 > limit).then(|| {
        runs.truncate(limit as usize);
        runs.last().map(|r| r.id)
    });
    Ok(Json(RunPage {
        runs,
        next: next.flatten(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `head`: the head stored beside a CSV or NDJSON file (`<name>.head.json`: its filter,
    /// period, checkpoint and count, which `verify-export` reads beside the file).
    #[param(inline)]
    part: Option<DownloadPart>,
}

/// What of a run to download besides its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DownloadPart {
    Head,
}

/// The largest head file served (a head is well under a kilobyte plus the checkpoint).
const HEAD_MAX: u64 = 64 * 1024;

/// The object a run wrote to its directory, as stored (a bundle: `application/gzip`; a file:
/// its format's type).
#[utoipa::path(
    get,
    path = "/api/v1/exports/runs/{id}/download",
    tag = "exports",
    params(("id" = uuid::Uuid, Path, description = "The run's UUID"), DownloadQuery),
    responses(
        (status = 200, description = "The object's bytes (with `part=head`, its head)",
         headers(
            ("x-trailkeep-sha256" = String, description = "The object's SHA-256 (hex), as the run and its export.created entry state"),
         ),
         content((String = "application/gzip"), (String = "text/csv"), (String = "application/json"),
                 (String = "application/x-ndjson"), (String = "application/pdf"))),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run has no object (not succeeded), its object is no longer in the directory, or it is in S3", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn download_run(
    reader: Reader,
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Path(id): Path<String>,
    Params(q): Params<DownloadQuery>,
) -> Result<Response, ApiError> {
    let id = uuid_param(&id, "id")?;
    let head = q.part == Some(DownloadPart::Head);
    let run = exports::run(&state.reads, id)
        .await
        .map_err(ApiError::database)?
        .ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, format!("no export run with id {id}"))
        })?;
    let conflict = |m: &str| ApiError::new(StatusCode::CONFLICT, m);
    let (Some(key), Some(sha), Some(bytes)) =
        (run.object_key.clone(), run.sha256.clone(), run.bytes)
    else {
        return Err(conflict(
            "this run has no object yet (it has not succeeded): wait for it, or see its error",
        ));
    };
    if run.destination.as_deref() == Some("s3") {
        return Err(conflict(&format!(
            "this run's object is in S3 at {key}{}: download it from the bucket (Trailkeep \
             downloads only objects in its export directory)",
            run.object_version
                .as_deref()
                .map(|v| format!(" (version {v})"))
                .unwrap_or_default()
        )));
    }
    if head {
        return head_of(&state, &run, &key);
    }
    let file = match state.export_root().open(&key) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(conflict(
                "the run's object is no longer in the export directory (moved or deleted \
                 outside Trailkeep)",
            ))
        }
        Err(e) => {
            tracing::error!(run = %id, error = %e, "an export object cannot be opened");
            return Err(conflict(
                "the run's object cannot be read from the export directory",
            ));
        }
    };
    let slot = state.export_slots.take(reader.id())?;
    let by = acting(&state, &reader, &headers, &extensions);
    let name = key.rsplit('/').next().unwrap_or(&key).to_string();
    let sha_hex = app::integrity::to_hex(&sha);
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let pool = state.pool.clone();
    let run_id = run.id;
    let details = json!({
        "run_id": run.id,
        "schedule_id": run.schedule_id,
        "format": run.format,
        "object_key": key,
        "sha256": sha_hex,
        "period_start": run.period_start,
        "period_end": run.period_end,
        "entries": run.entries,
        "bytes": bytes,
    });
    // Read on a blocking thread, a piece at a time, while the client takes them; recorded
    // once the last piece went out or the client left.
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = file;
        let mut sent: i64 = 0;
        let mut buf = vec![0u8; 64 * 1024];
        let completed = loop {
            match file.read(&mut buf) {
                Ok(0) => break sent == bytes,
                Ok(n) => {
                    sent += n as i64;
                    if tx
                        .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        break false;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break false;
                }
            }
        };
        let mut event = by
            .event("export.downloaded")
            .on("export_run", &run_id.to_string());
        let mut details = details;
        details["completed"] = json!(completed);
        details["sent_bytes"] = json!(sent);
        event.record.details = details;
        tokio::runtime::Handle::current().block_on(async move {
            if let Err(e) = entries::append(&pool, Source::Trailkeep, vec![event]).await {
                tracing::error!(error = %e, "could not record export.downloaded");
            }
            drop(slot);
        });
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::domain::export::bundle::content_type(&name)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
            .map_err(|_| conflict("the object's name cannot be sent"))?,
    );
    h.insert(
        "x-trailkeep-sha256",
        HeaderValue::from_str(&sha_hex).expect("hex"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The head stored beside a run's CSV or NDJSON file (`part=head`). It holds no entry (the
/// filter, the period, the checkpoint and the count, all in the run's history already), so
/// its download is not recorded.
fn head_of(state: &AppState, run: &exports::RunRow, key: &str) -> Result<Response, ApiError> {
    let conflict = |m: &str| ApiError::new(StatusCode::CONFLICT, m);
    if !matches!(run.format.as_deref(), Some("csv" | "ndjson")) {
        return Err(conflict(
            "only a CSV or NDJSON run has a head beside it (JSON states it inside, a bundle in \
             its manifest)",
        ));
    }
    let name = format!("{key}.head.json");
    let mut file =
        match state.export_root().open(&name) {
            Ok(Some(f)) => f,
            Ok(None) => return Err(conflict(
                "the run's head is no longer in the export directory (moved or deleted outside \
                 Trailkeep)",
            )),
            Err(e) => {
                tracing::error!(run = %run.id, error = %e, "an export head cannot be opened");
                return Err(conflict(
                    "the run's head cannot be read from the export directory",
                ));
            }
        };
    let mut bytes = Vec::new();
    use std::io::Read;
    if (&mut file)
        .take(HEAD_MAX + 1)
        .read_to_end(&mut bytes)
        .is_err()
        || bytes.len() as u64 > HEAD_MAX
    {
        return Err(conflict(
            "the run's head cannot be read from the export directory",
        ));
    }
    let file_name = name.rsplit('/').next().unwrap_or(&name).to_string();
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
            .map_err(|_| conflict("the head's name cannot be sent"))?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
