//! The Settings page's values: read through a cache every process refreshes after
//! [`CACHE_TTL`] (so several processes agree within seconds of a save), and changed by an
//! admin in one transaction with the `settings.updated` entry that names each changed field
//! before and after. Until an admin first saves, the environment's values apply.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use app::model::Source;
use app::settings::{Settings, SettingsRefusal};
use serde_json::json;
use sqlx::PgPool;

use super::acting::Acting;
use super::password_checks::SignInLimits;
use crate::storage::{entries, sessions, settings};

/// How long a process keeps the settings it read before reading them again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// The settings as this process last read them.
pub struct SettingsCache {
    pool: PgPool,
    defaults: Settings,
    /// When they were read (`None`: read them on the next ask), and what they were.
    latest: RwLock<(Option<Instant>, Settings)>,
    /// Bumped by every save of this process: a read that began before it is not kept.
    generation: std::sync::atomic::AtomicU64,
}

impl SettingsCache {
    /// `defaults`: the environment's values, until an admin saves.
    pub fn new(pool: PgPool, defaults: Settings) -> Self {
        SettingsCache {
            pool,
            latest: RwLock::new((None, defaults.clone())),
            generation: Default::default(),
            defaults,
        }
    }

    /// The settings, read again when older than [`CACHE_TTL`].
    pub async fn current(&self) -> Result<Settings, sqlx::Error> {
        {
            let latest = self.latest.read().expect("never poisoned");
            if latest.0.is_some_and(|at| at.elapsed() < CACHE_TTL) {
                return Ok(latest.1.clone());
            }
        }
        use std::sync::atomic::Ordering;
        let generation = self.generation.load(Ordering::SeqCst);
        let read = settings::load(&self.pool)
            .await?
            .unwrap_or_else(|| self.defaults.clone());
        let mut latest = self.latest.write().expect("never poisoned");
        if self.generation.load(Ordering::SeqCst) == generation {
            *latest = (Some(Instant::now()), read.clone());
        }
        Ok(read)
    }

    /// The settings as last read, without asking the database (every request's guard asks
    /// [`SettingsCache::current`] first, so these are at most [`CACHE_TTL`] old while
    /// requests arrive).
    pub fn latest(&self) -> Settings {
        self.latest.read().expect("never poisoned").1.clone()
    }

    /// Read them again on the next ask (this process just saved).
    fn forget(&self) {
        let mut latest = self.latest.write().expect("never poisoned");
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        latest.0 = None;
    }
}

/// Sign-in's limits under `s`: its lockout and the sessions it opens; the rest of `base`.
pub fn sign_in_limits(s: &Settings, base: SignInLimits) -> SignInLimits {
    SignInLimits {
        email_failures: i64::from(s.lockout_failures),
        window_minutes: i32::try_from(s.lockout_minutes).unwrap_or(i32::MAX),
        session_hours: s.session_hours,
        ..base
    }
}

/// How long sessions last under `s`.
pub fn session_lifetime(s: &Settings) -> sessions::Lifetime {
    sessions::Lifetime {
        hours: s.session_hours,
        idle_minutes: s.idle_minutes,
    }
}

/// Why settings were not saved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Refused(SettingsRefusal),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<SettingsRefusal> for SettingsError {
    fn from(r: SettingsRefusal) -> Self {
        SettingsError::Refused(r)
    }
}

impl From<entries::AppendError> for SettingsError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => SettingsError::Db(e),
            other => {
                tracing::error!(error = %other, "bug: Trailkeep's own entry was not appended");
                SettingsError::Db(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

/// Saves `new` (checked), recorded as `settings.updated` with each changed field's before and
/// after; refused as unchanged when nothing differs.
pub async fn update(
    pool: &PgPool,
    cache: &SettingsCache,
    by: &Acting,
    new: Settings,
) -> Result<Settings, SettingsError> {
    let new = new.checked()?;
    let mut tx = pool.begin().await?;
    let before = settings::lock(&mut tx)
        .await?
        .unwrap_or_else(|| cache.defaults.clone());
    let changes = new.changes_from(&before);
    if changes.is_empty() {
        return Err(SettingsRefusal::Unchanged.into());
    }
    settings::save(&mut tx, &new).await?;
    // Sessions that ended under the old values stay ended under longer new ones; shorter new
    // ones end the sessions they cover now.
    sessions::delete_ended(&mut tx, session_lifetime(&before)).await?;
    sessions::delete_ended(&mut tx, session_lifetime(&new)).await?;
    let mut event = by.event("settings.updated").on("settings", "site");
    event.record.details = json!({ "changes": changes });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    cache.forget();
    Ok(new)
}
