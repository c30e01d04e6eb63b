//! HTTP: adapts requests to the services and back. No SQL and no rules here. The rooms:
//! `state` (what every handler shares), `auth` (who is calling), `client` (the caller's address
//! and agent), `origin` (the cross-site guard), `session` (sign-in and out), `api` (the one
//! list of API routes and their OpenAPI document), a file per endpoint family (`ingest`,
//! `query`, `export`, `live`, `integrity`, `probes`, `metrics`, `exports`, `alerting`), `console` (the console's
//! server functions' backend), `admin` (the admin pages' backend, which writes), and `serve` (the server loop with its limits).

mod admin;
mod alerting;
mod api;
mod assets;
mod auth;
mod client;
mod console;
mod console_status;
mod error;
mod export;
mod exports;
mod headers;
mod ingest;
mod integrity;
mod live;
mod metrics;
pub mod openapi;
mod origin;
mod params;
mod probes;
mod query;
pub mod serve;
mod session;
mod slots;
mod state;

use std::sync::Arc;

use app::backend::{SharedAdmin, SharedBackend};
use axum::{
    middleware,
    routing::{get, post},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

pub use state::{AppState, StateError};

pub fn router(state: AppState) -> Router {
    let backend: SharedBackend = Arc::new(console::PgConsole {
        pool: state.reads.clone(),
        cursor_key: state.cursor_key.clone(),
        settings: state.settings.clone(),
        log_key: state.log_key.clone(),
        signer_memory: state.signer_memory.clone(),
        stale_after: crate::service::checkpoints::stale_after(state.config.log.checkpoint_every),
    });
    // The admin pages write: on the writing pool, never under the reads' statement timeout.
    let admin: SharedAdmin = Arc::new(admin::PgAdmin {
        pool: state.pool.clone(),
        totp_seal: state.totp_seal(),
        export_seal: state.export_seal(),
        settings: state.settings.clone(),
        sign_in: state.config.sign_in,
        alerting: admin::Alerting {
            reads: state.reads.clone(),
            seal: state.channel_seal(),
            outbound: state.config.outbound.clone(),
            public_url: state.config.public_url.clone(),
        },
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
        .route("/login/code", post(session::login_code))
        .route("/logout", post(session::logout))
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(backend.clone());
                provide_context(admin.clone());
                headers::set_page_policy();
            },
            move || app::shell::shell(shell_options.clone(), shell_root.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            move |options| app::shell::shell(options, error_root.clone()),
        ))
        .layer(middleware::from_fn(console_status::statuses))
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::from_fn_with_state(state.clone(), origin::guard))
        .layer(middleware::from_fn(move |request, next| {
            serve::request_deadline(request_limit, request, next)
        }))
        .layer(middleware::from_fn(metrics::count_requests))
        .with_state(state);
    headers::layer(router, https)
}
