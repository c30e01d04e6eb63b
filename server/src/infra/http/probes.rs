//! Probes for orchestrators: `/healthz` says the process serves; `/readyz` says it can do its
//! work (database reachable, schema current, live listener connected once started, the log's
//! monthly partitions at least a month ahead), and
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
    /// `ok`, or `degraded` when the Merkle tree stopped or the signer refuses (an integrity
    /// alarm for monitoring, which does not stop serving; `trailkeep_integrity_ok` says the
    /// same), or `unknown` (database unreachable or schema behind).
    pub integrity: &'static str,
    /// `growing`, `stopped at seq N [leaf-hash]` (that entry was changed after it was
    /// appended: an integrity alarm, which does not stop serving), or `unknown` (database
    /// unreachable).
    pub merkle_tree: String,
    /// `current` (the latest checkpoint verifies and the tree extends it), `none yet`,
    /// `refused: [check] …` (the signer will not sign: an integrity alarm, which does not stop
    /// serving; the check named as `trailkeep verify` names it), `no key` (this process holds
    /// no log key), or `unknown`.
    pub checkpoints: String,
    /// `N months ahead`: the log's monthly partitions reach N whole months past the current
    /// one (fewer than one and the server is not ready: next month's appends would fail),
    /// `none for this month` (appends fail now), or `unknown` (database unreachable or schema
    /// behind).
    pub partitions: String,
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
    let integrity = integrity(&state, migrations == "current").await;
    let ahead = if migrations == "current" {
        match storage::partitions::months_ahead(&state.pool).await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: cannot read the log's partitions");
                None
            }
        }
    } else {
        None
    };
    let ready = reachable
        && migrations == "current"
        && live_listener != "reconnecting"
        && ahead.is_some_and(|n| n >= crate::service::partitions::READY_AHEAD);
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
            integrity: integrity.word(),
            merkle_tree: integrity.merkle_tree,
            checkpoints: integrity.checkpoints,
            partitions: match ahead {
                Some(n) if n < 0 => "none for this month".into(),
                Some(1) => "1 month ahead".into(),
                Some(n) => format!("{n} months ahead"),
                None => "unknown".into(),
            },
        }),
    )
}

/// The integrity machinery's state as the database and this host's signer memory say.
pub struct Integrity {
    /// As [`Readiness::merkle_tree`].
    pub merkle_tree: String,
    /// As [`Readiness::checkpoints`].
    pub checkpoints: String,
    /// `Some(true)` when both are sound, `Some(false)` on an alarm, `None` when unknown.
    pub ok: Option<bool>,
}

impl Integrity {
    fn word(&self) -> &'static str {
        match self.ok {
            Some(true) => "ok",
            Some(false) => "degraded",
            None => "unknown",
        }
    }
}

/// Whether the tree grows and the signer signs (`schema_current`: else both are unknown).
pub async fn integrity(state: &AppState, schema_current: bool) -> Integrity {
    if !schema_current {
        return Integrity {
            merkle_tree: "unknown".into(),
            checkpoints: "unknown".into(),
            ok: None,
        };
    }
    let (merkle_tree, tree_ok) = match crate::service::tree::health(&state.pool).await {
        Ok(TreeHealth::Ok { .. }) => ("growing".to_string(), Some(true)),
        Ok(TreeHealth::Stopped { seq }) => (
            format!("stopped at seq {seq} [{}]", app::integrity::Check::LeafHash),
            Some(false),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: cannot read the Merkle tree's state");
            ("unknown".to_string(), None)
        }
    };
    let (checkpoints, signer_ok) = match &state.log_key {
        None => ("no key".to_string(), Some(true)),
        Some(key) => match crate::service::checkpoints::health(
            &state.pool,
            key,
            state.signer_memory.as_deref(),
            Some(crate::service::checkpoints::stale_after(
                state.config.log.checkpoint_every,
            )),
        )
        .await
        {
            Ok(CheckpointHealth::NoneYet) => ("none yet".to_string(), Some(true)),
            Ok(CheckpointHealth::Current { .. }) => ("current".to_string(), Some(true)),
            Ok(CheckpointHealth::Refused(r)) => (
                format!("refused: [{}] {}", r.finding().check, r.kind()),
                Some(false),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: cannot check the checkpoints");
                ("unknown".to_string(), None)
            }
        },
    };
    let ok = match (tree_ok, signer_ok) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    };
    Integrity {
        merkle_tree,
        checkpoints,
        ok,
    }
}
