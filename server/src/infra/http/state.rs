//! The state every handler shares: the two pools, the configuration, the log's keys, this
//! process's live bridge and its caps on exports and live sockets.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;

use super::{serve, slots};
use crate::infra::config::Config;

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
    pub log_key: Option<Arc<crate::domain::integrity::checkpoint::VerifierKey>>,
    /// What this host's signer signed last (beside the key file): `/readyz` and the console
    /// check the tree against it too.
    pub signer_memory: Option<Arc<crate::service::checkpoints::Memory>>,
    /// The log's signing key (`serve` has it): exports sign a checkpoint on demand, so that
    /// every entry they hold is proven.
    pub signing_key: Option<Arc<crate::domain::integrity::checkpoint::SigningKey>>,
    /// The Settings page's values, read again every few seconds (`service::settings`).
    pub settings: Arc<crate::service::settings::SettingsCache>,
}

impl AppState {
    /// Where scheduled exports are written (`TRAILKEEP_EXPORT_DIR`).
    pub fn export_root(&self) -> crate::service::destination::ExportRoot {
        crate::service::destination::ExportRoot::new(self.config.export_dir.clone())
    }

    /// This process's part of the export scheduler (`serve` has the log's key; without it,
    /// none).
    pub fn scheduler(&self) -> Option<crate::service::scheduler::Scheduler> {
        let root = self.export_root();
        Some(crate::service::scheduler::Scheduler {
            archiver: crate::service::archive::Archiver {
                pool: self.pool.clone(),
                reads: self.reads.clone(),
                log_key: self.log_key.clone()?,
                signing_key: self.signing_key.clone(),
                signer_memory: self.signer_memory.clone(),
                work_dir: root.work_dir(),
            },
            root,
            seal: self.export_seal(),
            outbound: crate::service::outbound::Outbound::new(self.config.outbound.clone()),
            owner: uuid::Uuid::new_v4(),
            lease: std::time::Duration::from_secs(60),
        })
    }

    /// This process's deliverer of alert notifications (`serve` has the key that opens the
    /// channels' secrets; without it, none).
    pub fn deliverer(&self) -> Option<crate::service::alerts::deliverer::Deliverer> {
        Some(crate::service::alerts::deliverer::Deliverer {
            pool: self.pool.clone(),
            outbound: crate::service::outbound::Outbound::new(self.config.outbound.clone()),
            seal: self.channel_seal()?,
            owner: uuid::Uuid::new_v4(),
            retry: Default::default(),
            public_url: self.config.public_url.clone(),
            site: self.config.site_name.clone(),
            extra_roots: self.config.outbound_roots.clone(),
            timeout: crate::service::alerts::deliverer::TIMEOUT,
            lease: self.config.delivery_lease,
        })
    }

    /// The key that seals notification channels' secrets (from the signing key).
    pub fn channel_seal(&self) -> Option<crate::domain::sealed::SealKey> {
        self.signing_key
            .as_ref()
            .map(|k| k.seal_key(crate::service::alerts::channels::SEAL_LABEL))
    }

    /// What an export needs of this server (`service::export`), under the settings in force
    /// (the PDF names the site).
    pub async fn exporter(&self) -> Result<crate::service::export::Exporter, sqlx::Error> {
        let site_name = self.settings.current().await?.site_name;
        Ok(crate::service::export::Exporter {
            pool: self.pool.clone(),
            reads: self.reads.clone(),
            log_key: self.log_key.clone(),
            signing_key: self.signing_key.clone(),
            signer_memory: self.signer_memory.clone(),
            site_name,
            floor: self.config.export_floor,
        })
    }

    /// Sign-in's limits under the settings in force.
    pub async fn sign_in_limits(
        &self,
    ) -> Result<crate::service::accounts::SignInLimits, sqlx::Error> {
        Ok(crate::service::settings::sign_in_limits(
            &self.settings.current().await?,
            self.config.sign_in,
        ))
    }

    /// The key that seals second factors' seeds (from the signing key: `serve` has it).
    pub fn totp_seal(&self) -> Option<crate::domain::sealed::SealKey> {
        self.signing_key
            .as_ref()
            .map(|k| k.seal_key(crate::service::two_factor::SEAL_LABEL))
    }

    /// The key that seals export destinations' credentials (from the signing key).
    pub fn export_seal(&self) -> Option<crate::domain::sealed::SealKey> {
        self.signing_key
            .as_ref()
            .map(|k| k.seal_key(crate::service::schedules::SEAL_LABEL))
    }

    /// After the server loop has drained: waits (up to `grace`) for live sockets, which run
    /// past their HTTP connection, to send their closing frame.
    pub async fn live_sockets_closed(&self, grace: std::time::Duration) {
        let started = std::time::Instant::now();
        while self.live_slots.running() > 0 && started.elapsed() < grace {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Why the shared state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The key that signs pagination cursors cannot be read (the migrations create it).
    #[error("cannot read the cursor key (run `trailkeep migrate`): {0}")]
    CursorKey(#[source] sqlx::Error),
}

impl AppState {
    /// `reads` may be `pool` itself (tests, tools); the server gives each its own.
    pub async fn new(
        pool: PgPool,
        reads: PgPool,
        leptos_options: LeptosOptions,
        config: Config,
    ) -> Result<Self, StateError> {
        let cursor_key = crate::storage::cursor_key(&pool)
            .await
            .map_err(StateError::CursorKey)?;
        Ok(AppState {
            // Live backfill and resync scan with the filter: reads, never the writers' pool.
            bridge: crate::service::live::Bridge::new(reads.clone()),
            export_slots: slots::Slots::exports(&config.caps),
            live_slots: slots::Slots::live(&config.caps),
            shutdown: serve::Shutdown::default(),
            log_key: None,
            signer_memory: None,
            signing_key: None,
            settings: Arc::new(crate::service::settings::SettingsCache::new(
                pool.clone(),
                config.default_settings(),
            )),
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
