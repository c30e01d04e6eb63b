//! `trailkeep serve`: the process's bootstrap — configuration, the two pools, the log's key,
//! the background workers, the HTTP server — and its graceful stop.

use leptos::prelude::get_configuration;

use super::CliError;
use crate::infra::{config, http, keyfile};
use crate::storage;

/// Serves until SIGTERM or Ctrl-C: the pools, the background workers (the partition keeper, the tree
/// integrator, the checkpoint signer, the sign-in summariser, the export scheduler), the HTTP server, then a graceful drain.
pub async fn serve(url: Option<String>) -> Result<(), CliError> {
    // One TLS stack for every outbound call: rustls with ring, before any client is built.
    crate::service::outbound::install_tls();
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_none() {
        std::env::set_var("LEPTOS_OUTPUT_NAME", "trailkeep");
    }
    let conf = get_configuration(None).map_err(CliError::Leptos)?;
    let leptos_options = conf.leptos_options;
    let addr = leptos_options.site_addr;
    let config = config::Config::from_env()?;
    let options = super::connect_options(url)?;
    let pool = storage::connect_with(options.clone(), config.db.connections).await?;
    let reads = storage::connect_reads(
        options,
        config.db.read_connections,
        config.db.read_statement,
    )
    .await?;
    let limits = config.http;
    let log = config.log.clone();
    let key = keyfile::load_or_create(&log.key_file, log.origin.as_deref())?;
    let mut state = http::AppState::new(pool, reads, leptos_options, config).await?;
    state.log_key = Some(std::sync::Arc::new(key.verifier().clone()));
    let memory = crate::service::checkpoints::Memory::beside(&log.key_file);
    state.signer_memory = Some(std::sync::Arc::new(memory.clone()));
    state.signing_key = Some(std::sync::Arc::new(key.clone()));
    // Before serving: an append needs the partition of its month (a failure here is logged
    // and retried by the keeper; /readyz tells when too few months are ahead).
    if let Err(e) = crate::service::partitions::keep_ahead(&state.pool).await {
        tracing::warn!(error = %e, "making the log's monthly partitions failed; retrying");
    }
    let shutdown = state.shutdown.clone();
    let stopping = shutdown.clone();
    tokio::spawn(crate::service::partitions::run(
        state.pool.clone(),
        async move { stopping.started().await },
    ));
    let stopping = shutdown.clone();
    tokio::spawn(crate::service::tree::run(state.pool.clone(), async move {
        stopping.started().await
    }));
    let stopping = shutdown.clone();
    tokio::spawn(crate::service::accounts::run_sign_in_summaries(
        state.pool.clone(),
        async move { stopping.started().await },
    ));
    let stopping = shutdown.clone();
    tokio::spawn(crate::service::checkpoints::run(
        state.pool.clone(),
        key,
        log.checkpoint_every,
        Some(memory),
        async move { stopping.started().await },
    ));
    let stopping = shutdown.clone();
    tokio::spawn(crate::service::alerts::evaluator::run(
        crate::service::alerts::evaluator::Evaluator::new(
            state.pool.clone(),
            uuid::Uuid::new_v4(),
            crate::service::alerts::evaluator::LEASE,
        ),
        async move { stopping.started().await },
    ));
    if let Some(deliverer) = state.deliverer() {
        let stopping = shutdown.clone();
        tokio::spawn(crate::service::alerts::deliverer::run(
            deliverer,
            async move { stopping.started().await },
        ));
    }
    if let Some(scheduler) = state.scheduler() {
        let stopping = shutdown.clone();
        tokio::spawn(scheduler.run(async move { stopping.started().await }));
    }
    let after = state.clone();
    let app = http::router(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| CliError::Listen { addr, source })?;
    tracing::info!(%addr, "trailkeep serving on http://{addr}");
    http::serve::serve(listener, app, limits, async move {
        shutdown_signal().await;
        tracing::info!("SIGTERM or Ctrl-C: shutting down");
        shutdown.begin();
    })
    .await;
    // Live sockets were told at the start of the drain; their closing frames take moments.
    after
        .live_sockets_closed(limits.grace.min(std::time::Duration::from_secs(2)))
        .await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
