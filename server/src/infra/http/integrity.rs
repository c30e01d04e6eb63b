//! The integrity API: signed checkpoints, inclusion and consistency proofs, and the log's
//! verifier key, for anyone who must check the log without trusting its operator. Readers only
//! (scope `read` or a session); hashes in JSON are lower-case hex, as `leaf_hash` is, and
//! checkpoints are C2SP signed notes, as the verifier tools expect.

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    auth::Reader,
    error::{ApiError, ErrorBody, Refused},
    params::Params,
    AppState,
};
use app::integrity::{Hash, Proof};

use crate::domain::integrity::tree::TreeError;
use crate::service::tree::{self, TreeReadError};
use crate::storage::{self, checkpoints::StoredCheckpoint};

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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    /// The checkpoint of exactly this many entries (default: the latest).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    size: Option<u64>,
}

/// The latest signed checkpoint, or the one of exactly `size` entries.
#[utoipa::path(
    get,
    path = "/api/v1/integrity/checkpoint",
    tag = "integrity",
    params(CheckpointQuery),
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
    Params(CheckpointQuery { size }): Params<CheckpointQuery>,
) -> Result<Note, ApiError> {
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
    /// The entry's leaf hash as the tree holds it (lower-case hex).
    #[serde(with = "app::integrity::hex_hash")]
    #[schema(value_type = String)]
    pub leaf_hash: Hash,
    /// The audit path, leaf to root.
    pub proof: Proof,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry's seq.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    seq: u64,
    /// The tree's size (a checkpoint's): greater than seq.
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    size: u64,
}

/// The proof that entry `seq` is in the tree of the first `size` entries.
#[utoipa::path(
    get,
    path = "/api/v1/integrity/proof/inclusion",
    tag = "integrity",
    params(InclusionQuery),
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
    Params(InclusionQuery { seq, size }): Params<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
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
        leaf_hash: leaf,
        proof,
    }))
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub proof: Proof,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The smaller tree's size.
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    from: u64,
    /// The larger tree's size (at least from).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    to: u64,
}

/// The proof that the tree of the first `from` entries is a prefix of the tree of `to`.
#[utoipa::path(
    get,
    path = "/api/v1/integrity/proof/consistency",
    tag = "integrity",
    params(ConsistencyQuery),
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
    Params(ConsistencyQuery { from, to }): Params<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
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
    Ok(Json(ConsistencyProof { from, to, proof }))
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
