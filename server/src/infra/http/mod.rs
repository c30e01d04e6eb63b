//! HTTP: adapts requests to the domain and storage functions. No SQL and no rules here.

mod api;
mod assets;
mod client;
mod error;
mod export;
mod headers;
mod ingest;
mod integrity;
mod live;
mod metrics;
pub mod openapi;
mod origin;
mod probes;
mod query;
pub mod serve;
mod session;
mod slots;

use std::sync::Arc;

use app::backend::{BackendResult, BoxFuture, ConsoleBackend, SharedBackend};
use app::error::ConsoleError;
use app::filter::Filter;
use app::model::{
    ActionCategory, ActorFacet, AuditEntry, EntryPage, IntegrityEvidence, MatchCount,
};
use axum::{
    extract::FromRef,
    middleware,
    routing::{get, post},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;

use crate::infra::config::Config;
use crate::storage::{self, query::QueryError};
use uuid::Uuid;

#[derive(Clone)]
pub struct AppState {
    /// Appending, sessions, accounts and keys: never waits behind a search.
    pub pool: PgPool,
    /// Searches, counts, facets and exports, each statement bounded by a timeout.
    pub reads: PgPool,
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    /// Signs pagination cursors (shared by all processes through the database).
    pub cursor_key: Arc<Vec<u8>>,
    /// This process's live bridge (started by its first live client).
    pub bridge: crate::service::live::Bridge,
    /// This process's running exports and live sockets, capped per reader and in all.
    pub export_slots: slots::Slots,
    pub live_slots: slots::Slots,
    /// Begun when the process is asked to stop (live sockets close with "reconnect").
    pub shutdown: serve::Shutdown,
    /// The log's verifier key (its signing key signs the checkpoints): `serve` always has one;
    /// without it the integrity endpoints answer 503.
    pub log_key: Option<Arc<crate::domain::checkpoint::VerifierKey>>,
    /// What this host's signer signed last (beside the key file): `/readyz` and the console
    /// check the tree against it too.
    pub signer_memory: Option<Arc<crate::service::checkpoints::Memory>>,
    /// The log's signing key (`serve` has it): exports sign a checkpoint on demand, so that
    /// every entry they hold is proven.
    pub signing_key: Option<Arc<crate::domain::checkpoint::SigningKey>>,
}

impl AppState {
    /// After the server loop has drained: waits (up to `grace`) for live sockets, which run
    /// past their HTTP connection, to send their closing frame.
    pub async fn live_sockets_closed(&self, grace: std::time::Duration) {
        let started = std::time::Instant::now();
        while self.live_slots.running() > 0 && started.elapsed() < grace {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl AppState {
    /// `reads` may be `pool` itself (tests, tools); the server gives each its own.
    pub async fn new(
        pool: PgPool,
        reads: PgPool,
        leptos_options: LeptosOptions,
        config: Config,
    ) -> Result<Self, String> {
        let cursor_key = crate::storage::cursor_key(&pool)
            .await
            .map_err(|e| format!("cannot read the cursor key (run `trailkeep migrate`): {e}"))?;
        Ok(AppState {
            // Live backfill and resync scan with the filter: reads, never the writers' pool.
            bridge: crate::service::live::Bridge::new(reads.clone()),
            export_slots: slots::Slots::exports(),
            live_slots: slots::Slots::live(),
            shutdown: serve::Shutdown::default(),
            log_key: None,
            signer_memory: None,
            signing_key: None,
            pool,
            reads,
            leptos_options,
            config: Arc::new(config),
            cursor_key: Arc::new(cursor_key),
        })
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The console's view of the store, handed to the Leptos server functions.
struct PgConsole {
    pool: PgPool,
    cursor_key: Arc<Vec<u8>>,
    recorded_late_after: chrono::Duration,
    log_key: Option<Arc<crate::domain::checkpoint::VerifierKey>>,
    signer_memory: Option<Arc<crate::service::checkpoints::Memory>>,
    /// When a signer that signs nothing although the log grew is an alarm.
    stale_after: std::time::Duration,
}

/// The store could not answer: logged here (with why), `Unavailable` to the console, or
/// `TooSlow` when the read ran into its statement timeout.
fn unavailable(e: sqlx::Error) -> ConsoleError {
    if storage::is_statement_timeout(&e) {
        tracing::warn!("a console read ran into the statement timeout");
        return ConsoleError::TooSlow;
    }
    tracing::error!(error = %e, "database error");
    ConsoleError::Unavailable
}

fn query_failed(e: QueryError) -> ConsoleError {
    match e {
        QueryError::Filter(f) => ConsoleError::BadFilter(f),
        QueryError::TooSlow => {
            tracing::warn!("a console read ran into the statement timeout");
            ConsoleError::TooSlow
        }
        QueryError::Db(e) => unavailable(e),
    }
}

impl ConsoleBackend for PgConsole {
    fn integrity(&self, seqs: Vec<i64>) -> BoxFuture<'_, BackendResult<Option<IntegrityEvidence>>> {
        Box::pin(async move {
            let Some(latest) =
                crate::service::checkpoints::newest_verified(&self.pool, self.log_key.as_deref())
                    .await
                    .map_err(unavailable)?
            else {
                return Ok(None);
            };
            let proofs = crate::service::tree::inclusions(&self.pool, &seqs, latest.size as u64)
                .await
                .map_err(|e| match e {
                    crate::service::tree::TreeReadError::Db(e) => unavailable(e),
                    e @ (crate::service::tree::TreeReadError::Tree(_)
                    | crate::service::tree::TreeReadError::Beyond(_)) => {
                        tracing::error!(error = %e, "the stored tree cannot prove entries");
                        ConsoleError::Unavailable
                    }
                })?;
            // The signer's verdict, as every process reads it from the database.
            let refused = match &self.log_key {
                None => None,
                Some(key) => match crate::service::checkpoints::health(
                    &self.pool,
                    key,
                    self.signer_memory.as_deref(),
                    Some(self.stale_after),
                )
                .await
                {
                    Ok(crate::service::checkpoints::CheckpointHealth::Refused(r)) => {
                        Some(r.to_string())
                    }
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot check the signer's health");
                        None
                    }
                },
            };
            Ok(Some(IntegrityEvidence {
                refused,
                note: latest.note,
                size: latest.size,
                signed_at: latest.signed_at,
                server_key: self.log_key.as_ref().map(|k| k.as_str().to_string()),
                proofs: seqs
                    .iter()
                    .zip(proofs)
                    .filter_map(|(seq, p)| Some((*seq, p?.iter().map(hex::encode).collect())))
                    .collect(),
            }))
        })
    }

    fn page(
        &self,
        filter: Filter,
        cursor: Option<String>,
        limit: i64,
    ) -> BoxFuture<'_, BackendResult<EntryPage>> {
        Box::pin(async move {
            storage::query::signed_page(
                &self.pool,
                &self.cursor_key,
                &filter,
                limit,
                cursor.as_deref(),
            )
            .await
            .map_err(query_failed)
        })
    }

    fn count(
        &self,
        filter: Filter,
        cap: Option<i64>,
        through_seq: Option<i64>,
    ) -> BoxFuture<'_, BackendResult<MatchCount>> {
        Box::pin(async move {
            storage::query::count_through(&self.pool, &filter, cap, through_seq)
                .await
                .map_err(query_failed)
        })
    }

    fn entry(&self, id: Uuid) -> BoxFuture<'_, BackendResult<Option<AuditEntry>>> {
        Box::pin(async move {
            storage::query::by_id(&self.pool, id)
                .await
                .map_err(unavailable)
        })
    }

    fn user_facets(&self, q: String, limit: i64) -> BoxFuture<'_, BackendResult<Vec<ActorFacet>>> {
        Box::pin(async move {
            storage::query::actor_facets(&self.pool, &q, limit)
                .await
                .map_err(unavailable)
        })
    }

    fn action_facets(&self) -> BoxFuture<'_, BackendResult<Vec<ActionCategory>>> {
        Box::pin(async move {
            storage::query::action_facets(&self.pool)
                .await
                .map_err(unavailable)
        })
    }

    fn actors(&self, values: Vec<String>) -> BoxFuture<'_, BackendResult<Vec<ActorFacet>>> {
        Box::pin(async move {
            storage::query::actors_named(&self.pool, &values)
                .await
                .map_err(unavailable)
        })
    }

    fn recorded_late_after(&self) -> chrono::Duration {
        self.recorded_late_after
    }
}

pub fn router(state: AppState) -> Router {
    let backend: SharedBackend = Arc::new(PgConsole {
        pool: state.reads.clone(),
        cursor_key: state.cursor_key.clone(),
        recorded_late_after: state.config.recorded_late_after,
        log_key: state.log_key.clone(),
        signer_memory: state.signer_memory.clone(),
        stale_after: crate::service::checkpoints::stale_after(state.config.log.checkpoint_every),
    });
    let routes = generate_route_list(app::shell::App);
    let shell_options = state.leptos_options.clone();
    let assets_root = assets::root(&state.leptos_options);
    let shell_root = assets_root.clone();
    let error_root = assets_root.clone();
    let https = state.config.secure_cookies;
    let request_limit = state.config.http.request;
    std::sync::LazyLock::force(&metrics::STARTED);
    let router = Router::new()
        .merge(assets::routes(&state.leptos_options, &assets_root))
        .merge(api::router())
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(backend.clone());
                headers::set_page_policy();
            },
            move || app::shell::shell(shell_options.clone(), shell_root.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            move |options| app::shell::shell(options, error_root.clone()),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::guard,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), origin::guard))
        .layer(middleware::from_fn(move |request, next| {
            serve::request_deadline(request_limit, request, next)
        }))
        .layer(middleware::from_fn(metrics::count_requests))
        .with_state(state);
    headers::layer(router, https)
}
