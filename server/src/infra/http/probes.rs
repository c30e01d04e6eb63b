//! Probes for orchestrators: `/healthz` says the process serves; `/readyz` says it can do its
//! work (database reachable, schema current, live listener connected once started), and
//! whether the Merkle tree can grow and its checkpoints be signed. Both are public and say nothing secret.

use axum::{extract::State, http::StatusCode, Json};
use serde::Serialize;

use super::AppState;
use crate::service::{checkpoints::CheckpointHealth, tree::TreeHealth};
use crate::storage;

/// `GET /healthz`: the process is up (no database round trip).
pub async fn healthz() -> &'static str {
    "ok"
}

#[derive(Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// `ok`, or `unreachable`.
    pub database: &'static str,
    /// `current`, `behind` (run `trailkeep migrate`), or `unknown` (database unreachable).
    pub migrations: &'static str,
    /// `connected`, `reconnecting`, or `idle` (no live client yet on this process).
    pub live_listener: &'static str,
    /// `growing`, `stopped at seq N` (that entry was changed after it was appended: an
    /// integrity alarm, which does not stop serving), or `unknown` (database unreachable).
    pub merkle_tree: String,
    /// `current` (the latest checkpoint verifies and the tree extends it), `none yet`,
    /// `refused: …` (the signer will not sign: an integrity alarm, which does not stop
    /// serving), `no key` (this process holds no log key), or `unknown`.
    pub checkpoints: String,
}

/// `GET /readyz`: 200 when ready, 503 with the failing part otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let reachable = storage::ping(&state.pool).await.is_ok();
    let migrations = if !reachable {
        "unknown"
    } else {
        match storage::migrations_current(&state.pool).await {
            Ok(true) => "current",
            Ok(false) => "behind",
            Err(e) => {
                tracing::warn!(error = %e, "readiness: cannot read the migrations table");
                "unknown"
            }
        }
    };
    let live_listener = match state.bridge.listening() {
        None => "idle",
        Some(true) => "connected",
        Some(false) => "reconnecting",
    };
    let merkle_tree = if migrations != "current" {
        "unknown".to_string()
    } else {
        match crate::service::tree::health(&state.pool).await {
            Ok(TreeHealth::Ok { .. }) => "growing".to_string(),
            Ok(TreeHealth::Stopped { seq }) => format!("stopped at seq {seq}"),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: cannot read the Merkle tree's state");
                "unknown".to_string()
            }
        }
    };
    let checkpoints = match (&state.log_key, migrations) {
        (None, _) => "no key".to_string(),
        (Some(_), m) if m != "current" => "unknown".to_string(),
        (Some(key), _) => match crate::service::checkpoints::health(&state.pool, key).await {
            Ok(CheckpointHealth::NoneYet) => "none yet".to_string(),
            Ok(CheckpointHealth::Current { .. }) => "current".to_string(),
            Ok(CheckpointHealth::Refused(r)) => format!("refused: {}", r.kind()),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: cannot check the checkpoints");
                "unknown".to_string()
            }
        },
    };
    let ready = reachable && migrations == "current" && live_listener != "reconnecting";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            database: if reachable { "ok" } else { "unreachable" },
            migrations,
            live_listener,
            merkle_tree,
            checkpoints,
        }),
    )
}
