//! API key workflows: create, rotate, revoke, each committed in one transaction with the entry
//! that records it (source `trailkeep`, the key as resource, before and after in
//! `details.changes`), and authentication, which notes a key's last use at most once a minute.
//! Secrets and their hashes never reach an entry, a log line or an answer other than the one
//! that shows a new secret once.

use std::collections::HashMap;
use std::sync::Mutex;

use app::keys::{self, KeyRefusal, Scope};
use app::model::Source;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::acting::Acting;
use crate::domain::auth;
use crate::storage::{api_keys, entries};

/// Why a key workflow changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Refused(KeyRefusal),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<KeyRefusal> for KeyError {
    fn from(r: KeyRefusal) -> Self {
        KeyError::Refused(r)
    }
}

impl From<entries::AppendError> for KeyError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => KeyError::Db(e),
            // Neither can happen to an entry Trailkeep makes itself (a fresh id, its own
            // hash): a defect, logged as one.
            other => {
                tracing::error!(error = %other, "bug: Trailkeep's own entry was not appended");
                KeyError::Db(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

/// What a new key is asked to be.
pub struct KeySpec<'a> {
    pub name: &'a str,
    pub scopes: &'a [Scope],
    pub expires_in_days: Option<u32>,
}

/// A scope list for an entry's details.
fn scope_words(scopes: &[Scope]) -> Vec<&'static str> {
    scopes.iter().map(|s| s.as_str()).collect()
}

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(Value::Null)
}

/// Creates a key at `now`; the secret is returned once and never stored.
pub async fn create(
    pool: &PgPool,
    spec: KeySpec<'_>,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<(app::keys::ApiKey, String), KeyError> {
    let name = keys::key_name(spec.name)?;
    let scopes = keys::key_scopes(spec.scopes)?;
    let expires_at = keys::key_expiry(now, spec.expires_in_days)?;
    let secret = auth::new_api_key();
    let mut tx = pool.begin().await?;
    let row = api_keys::insert(
        &mut tx,
        api_keys::NewKeyRow {
            name: &name,
            prefix: &secret.prefix,
            key_hash: &secret.hash,
            scopes: &scopes,
            created_by: &by.label(),
            expires_at,
        },
    )
    .await?;
    let mut event = by.event("key.created").on("api_key", &row.id.to_string());
    event.record.details = json!({
        "name": name,
        "prefix": row.prefix,
        "scopes": scope_words(&scopes),
        "expires_at": time(expires_at),
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok((row.into(), secret.plaintext))
}

/// A new secret for live key `id` at `now`; the previous one is accepted for `grace_hours`.
pub async fn rotate(
    pool: &PgPool,
    id: Uuid,
    grace_hours: u32,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<(app::keys::ApiKey, String), KeyError> {
    let grace_until = keys::grace_until(now, grace_hours)?;
    let secret = auth::new_api_key();
    let mut tx = pool.begin().await?;
    let Some(before) = api_keys::lock(&mut tx, id).await? else {
        return Err(KeyRefusal::NotFound.into());
    };
    let Some(after) =
        api_keys::rotate(&mut tx, id, &secret.prefix, &secret.hash, now, grace_until).await?
    else {
        return Err(KeyRefusal::NotLive.into());
    };
    let mut event = by.event("key.rotated").on("api_key", &id.to_string());
    event.record.details = json!({
        "name": after.name,
        "grace_hours": grace_hours,
        "changes": {
            "prefix": {"before": before.prefix, "after": after.prefix},
            "previous_accepted_until": {
                "before": time(before.previous_until.filter(|u| *u > now)),
                "after": time(after.previous_until),
            },
        },
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok((after.into(), secret.plaintext))
}

/// Revokes key `id` at `now`: both its secrets are refused from the commit on.
pub async fn revoke(
    pool: &PgPool,
    id: Uuid,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<app::keys::ApiKey, KeyError> {
    let mut tx = pool.begin().await?;
    let Some(before) = api_keys::lock(&mut tx, id).await? else {
        return Err(KeyRefusal::NotFound.into());
    };
    let Some(after) = api_keys::revoke(&mut tx, id, now).await? else {
        return Err(KeyRefusal::NotLive.into());
    };
    let was = app::keys::ApiKey::from(before).status(now).word();
    let mut event = by.event("key.revoked").on("api_key", &id.to_string());
    event.record.details = json!({
        "name": after.name,
        "prefix": after.prefix,
        "changes": {"status": {"before": was, "after": "Revoked"}},
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(after.into())
}

/// The key named by the CLI: its id, or the prefix of its current secret (refused when two
/// keys share it: 8 hex characters are not unique).
pub async fn resolve(pool: &PgPool, id_or_prefix: &str) -> Result<Uuid, KeyError> {
    if let Ok(id) = Uuid::parse_str(id_or_prefix) {
        return Ok(id);
    }
    match api_keys::ids_with_prefix(pool, id_or_prefix)
        .await?
        .as_slice()
    {
        [id] => Ok(*id),
        _ => Err(KeyRefusal::NotFound.into()),
    }
}

pub async fn list(pool: &PgPool) -> Result<Vec<app::keys::ApiKey>, sqlx::Error> {
    Ok(api_keys::list(pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// When this process last noted each key's use: the database is asked at most once a minute
/// per key and process (and writes at most once a minute per key, whatever the processes).
/// Bounded by the number of keys that exist: only authenticated keys are noted.
static NOTED: Mutex<Option<HashMap<Uuid, DateTime<Utc>>>> = Mutex::new(None);

/// The key that `secret` authenticates at `now`, if any; its use is noted.
pub async fn authenticate(
    pool: &PgPool,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<api_keys::ApiKeyRow>, sqlx::Error> {
    let Some(key) = api_keys::find_active(pool, &auth::sha256(secret.as_bytes()), now).await?
    else {
        return Ok(None);
    };
    let due = {
        let mut noted = NOTED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let noted = noted.get_or_insert_with(HashMap::new);
        match noted.get(&key.id) {
            Some(at) if now - *at < chrono::Duration::minutes(1) => false,
            _ => {
                noted.insert(key.id, now);
                true
            }
        }
    };
    if due {
        // Last use is a convenience: a failure to note it never refuses the request.
        if let Err(e) = api_keys::touch(pool, key.id, now).await {
            tracing::warn!(error = %e, key = %key.id, "could not note an API key's last use");
        }
    }
    Ok(Some(key))
}
