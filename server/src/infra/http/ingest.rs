//! `POST /api/v1/events`: append one event or a batch of up to 1000.

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::{header, HeaderMap, StatusCode},
    Json,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{
    auth::Ingester,
    error::{ApiError, ErrorBody, Refused},
    AppState,
};
use crate::{
    domain::entry::event::{parse_batch, BatchError},
    service::ingest::{self, IngestError, Limit},
    storage::entries::{AppendError, Appended},
};

/// What a 201 acknowledges: each event's id, position and leaf hash, in the order sent.
#[derive(Serialize, ToSchema)]
pub struct Acks {
    pub entries: Vec<Appended>,
}

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Append one event or an atomic batch of up to 1000.
#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "ingest",
    request_body(content = super::openapi::IngestBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Committed in PostgreSQL", body = Acks),
        Refused,
        (status = 409, description = "A client id is stored with other content, or from another key", body = ErrorBody),
        (status = 429, description = "The key's rate limit or daily quota would be passed: nothing was stored; see Retry-After", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn post_events(
    Ingester(key): Ingester,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Acks>), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON: Content-Type: application/json",
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body exceeds {MAX_BODY_BYTES} bytes; send smaller batches"),
            )
        } else {
            ApiError::bad_request(format!("the body could not be read: {rejection}"))
        }
    })?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let events = parse_batch(&value).map_err(|e| match e {
        BatchError::Shape(message) => ApiError::bad_request(message),
        BatchError::Invalid(errors) => {
            let n = errors.len();
            ApiError::bad_request(format!(
                "{n} problem{} in the batch; nothing was stored",
                if n == 1 { "" } else { "s" }
            ))
            .with_details(json!(errors))
        }
    })?;

    // The key is the entry's source, whatever the events say about their actors; its rate
    // limit and daily quota are charged in the append's transaction.
    let n = events.len();
    let limits = state.config.ingest;
    if n as i64 > limits.per_minute.min(limits.per_day) {
        return Err(ApiError::bad_request(format!(
            "a batch of {n} events is more than this key may append per minute ({}) or per day \
             ({}): send smaller batches; nothing was stored",
            limits.per_minute, limits.per_day
        )));
    }
    match ingest::append(&state.pool, key.id, events, limits).await {
        Ok(entries) => {
            super::metrics::ingested(entries.len());
            Ok((StatusCode::CREATED, Json(Acks { entries })))
        }
        Err(IngestError::Limited {
            limit,
            allowed,
            retry_after,
        }) => {
            super::metrics::ingest_limited(limit);
            let per = match limit {
                Limit::PerMinute => "minute",
                Limit::PerDay => "day (UTC)",
            };
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this key may append {allowed} events per {per}; these {n} would pass it, \
                     so nothing was stored: retry after {retry_after} s (Retry-After)"
                ),
            )
            .with_retry_after(retry_after))
        }
        Err(IngestError::Append(e)) => Err(appended_error(e)),
    }
}

fn appended_error(e: AppendError) -> ApiError {
    match e {
        AppendError::Conflict { index, id } => ApiError::new(
            StatusCode::CONFLICT,
            format!("event {index}: id {id} is already stored with different content or from another key; nothing was stored"),
        )
        .with_details(json!([{"index": index, "field": "id", "message": "already stored with different content or from another key"}])),
        AppendError::Archived { index, id, seq } => ApiError::new(
            StatusCode::CONFLICT,
            format!("event {index}: id {id} is already in the log as seq {seq}, in a month that was archived and left the database (its bundle holds it); nothing was stored"),
        )
        .with_details(json!([{"index": index, "field": "id", "message": "already stored, in an archived month"}])),
        e @ AppendError::Unfaithful { .. } => {
            tracing::error!(error = %e, "bug: an event was not stored as it was hashed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the event could not be stored exactly as it was hashed (a Trailkeep bug, \
                 logged); nothing was stored",
            )
        }
        AppendError::Db(e) => ApiError::database(e),
    }
}
