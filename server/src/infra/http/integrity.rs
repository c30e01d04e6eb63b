//! The integrity API: signed checkpoints, inclusion and consistency proofs, and the log's
//! verifier key, for anyone who must check the log without trusting its operator. Readers only
//! (scope `read` or a session); hashes in JSON are lower-case hex, as `leaf_hash` is, and
//! checkpoints are C2SP signed notes, as the verifier tools expect.

use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    client::Reader,
    error::{ApiError, ErrorBody, Refused},
    query::{number, simple_params},
    AppState,
};
use crate::domain::tree::TreeError;
use crate::service::tree::{self, TreeReadError};
use crate::storage::{self, checkpoints::StoredCheckpoint};

/// Sizes and leaf numbers the API takes: what PostgreSQL's bigint holds.
const MAX: i64 = i64::MAX;

impl From<TreeReadError> for ApiError {
    fn from(e: TreeReadError) -> Self {
        match e {
            TreeReadError::Db(e) => ApiError::database(e),
            TreeReadError::Tree(TreeError::OutOfRange(m)) => ApiError::bad_request(m),
            TreeReadError::Beyond(m) => ApiError::new(StatusCode::NOT_FOUND, m),
            TreeReadError::Tree(e) => {
                tracing::error!(error = %e, "the stored tree cannot answer a proof");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

/// A checkpoint as a C2SP signed note (`text/plain`), with the time it was signed.
pub struct Note(StoredCheckpoint);

impl IntoResponse for Note {
    fn into_response(self) -> Response {
        let mut response = self.0.note.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Ok(at) = HeaderValue::from_str(&self.0.signed_at.to_rfc3339()) {
            headers.insert("x-trailkeep-signed-at", at);
        }
        response
    }
}

/// The latest signed checkpoint, or the one of exactly `size` entries.
#[utoipa::path(
    get,
    path = "/api/v1/integrity/checkpoint",
    tag = "integrity",
    params(
        ("size" = Option<i64>, Query, minimum = 1, description = "The checkpoint of exactly this many entries (default: the latest)"),
    ),
    responses(
        (status = 200, description = "A C2SP tlog-checkpoint as a C2SP signed note (Ed25519); header x-trailkeep-signed-at says when it was signed", content_type = "text/plain", body = String),
        (status = 404, description = "No checkpoint (of that size) was signed", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn checkpoint(
    _: Reader,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Note, ApiError> {
    let mut size = None;
    for (_, v) in simple_params(raw.as_deref(), &["size"])? {
        size = Some(number("size", &v, 1, MAX)? as u64);
    }
    let found = match size {
        None => {
            crate::service::checkpoints::newest_verified(&state.reads, state.log_key.as_deref())
                .await
        }
        Some(n) => storage::checkpoints::of_size(&state.reads, n)
            .await
            .map(|rows| {
                // A size may be stored more than once: the row this log's key signed.
                let key = state.log_key.as_deref();
                rows.into_iter()
                    .find(|row| key.is_some_and(|k| k.open(row.note.as_bytes()).is_ok()))
            }),
    }
    .map_err(ApiError::database)?;
    found.map(Note).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            match size {
                None => "no checkpoint signed yet: one is signed within seconds of the first entry"
                    .to_string(),
                Some(n) => format!(
                    "no checkpoint of {n} entries was signed (GET this without size for the latest)"
                ),
            },
        )
    })
}

/// An inclusion proof (RFC 9162 §2.1.3).
#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    pub seq: u64,
    pub size: u64,
    /// The entry's leaf hash as the tree holds it.
    pub leaf_hash: String,
    /// The audit path, leaf to root.
    pub proof: Vec<String>,
}

/// The proof that entry `seq` is in the tree of the first `size` entries.
#[utoipa::path(
    get,
    path = "/api/v1/integrity/proof/inclusion",
    tag = "integrity",
    params(
        ("seq" = i64, Query, minimum = 0, description = "The entry's seq"),
        ("size" = i64, Query, minimum = 1, description = "The tree's size (a checkpoint's): greater than seq"),
    ),
    responses(
        (status = 200, description = "The proof", body = InclusionProof),
        (status = 404, description = "No such proof: seq is not below size, or the tree is not that large (yet)", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn inclusion(
    _: Reader,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<InclusionProof>, ApiError> {
    let (mut seq, mut size) = (None, None);
    for (k, v) in simple_params(raw.as_deref(), &["seq", "size"])? {
        match k.as_str() {
            "seq" => seq = Some(number("seq", &v, 0, MAX)? as u64),
            _ => size = Some(number("size", &v, 1, MAX)? as u64),
        }
    }
    let seq = seq.ok_or_else(|| ApiError::bad_request("seq: required").with_param("seq"))?;
    let size = size.ok_or_else(|| ApiError::bad_request("size: required").with_param("size"))?;
    if seq >= size {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "seq: no entry {seq} in a tree of {size} entries (it holds seq 0 to {})",
                size - 1
            ),
        )
        .with_param("seq"));
    }
    let mut conn = storage::pools::acquire(&state.reads, &storage::pools::READS)
        .await
        .map_err(ApiError::database)?;
    let (leaf, proof) = tree::inclusion(&mut conn, seq, size)
        .await
        .map_err(|e| ApiError::from(e).with_param("size"))?;
    Ok(Json(InclusionProof {
        seq,
        size,
        leaf_hash: hex::encode(leaf),
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<String>,
}

/// The proof that the tree of the first `from` entries is a prefix of the tree of `to`.
#[utoipa::path(
    get,
    path = "/api/v1/integrity/proof/consistency",
    tag = "integrity",
    params(
        ("from" = i64, Query, minimum = 1, description = "The smaller tree's size"),
        ("to" = i64, Query, minimum = 1, description = "The larger tree's size (at least from)"),
    ),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 404, description = "No such proof: from is above to, or the tree is not that large (yet)", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn consistency(
    _: Reader,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let (mut from, mut to) = (None, None);
    for (k, v) in simple_params(raw.as_deref(), &["from", "to"])? {
        match k.as_str() {
            "from" => from = Some(number("from", &v, 1, MAX)? as u64),
            _ => to = Some(number("to", &v, 1, MAX)? as u64),
        }
    }
    let from = from.ok_or_else(|| ApiError::bad_request("from: required").with_param("from"))?;
    let to = to.ok_or_else(|| ApiError::bad_request("to: required").with_param("to"))?;
    if from > to {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("from: no proof that a tree of {from} entries precedes one of {to}: a tree extends only smaller ones"),
        )
        .with_param("from"));
    }
    let mut conn = storage::pools::acquire(&state.reads, &storage::pools::READS)
        .await
        .map_err(ApiError::database)?;
    let proof = tree::consistency(&mut conn, from, to)
        .await
        .map_err(|e| ApiError::from(e).with_param("to"))?;
    Ok(Json(ConsistencyProof {
        from,
        to,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

/// The log's verifier key as text (`text/plain`).
pub struct KeyText(String);

impl IntoResponse for KeyText {
    fn into_response(self) -> Response {
        (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.0 + "\n",
        )
            .into_response()
    }
}

/// The log's verifier key (`name+keyid+base64`): pin it where you verify, from a source you
/// trust more than this server (`trailkeep key-info` on the host).
#[utoipa::path(
    get,
    path = "/api/v1/integrity/key",
    tag = "integrity",
    responses(
        (status = 200, description = "The C2SP signed-note verifier key", content_type = "text/plain", body = String),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn key(_: Reader, State(state): State<AppState>) -> Result<KeyText, ApiError> {
    state
        .log_key
        .as_ref()
        .map(|k| KeyText(k.as_str().to_string()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this server has no log key (it is loaded by `trailkeep serve`)",
            )
        })
}
