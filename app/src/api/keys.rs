//! Server functions of the API keys page. Admins only, checked here on every call (the page
//! hiding a button is not a check); API keys cannot call them at all (server functions take
//! only a session, see the server's guard). Refusals get their status from the server's
//! `console_status` layer (403, 400, 404, 409).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::keys::{ApiKey, NewSecret, Scope};

/// Every API key, newest first.
#[server(input = Json)]
pub async fn list_keys() -> Result<Vec<ApiKey>, ConsoleError> {
    let (backend, _) = super::admin().await?;
    backend.keys().await
}

/// A new key: its secret is shown once, in this answer.
#[server(input = Json)]
pub async fn create_key(
    name: String,
    scopes: Vec<Scope>,
    expires_in_days: Option<u32>,
) -> Result<NewSecret, ConsoleError> {
    let (backend, by) = super::admin().await?;
    super::sudo().await?;
    backend.create_key(by, name, scopes, expires_in_days).await
}

/// A new secret for a key; the previous one stays accepted for `grace_hours` (at most 168).
#[server(input = Json)]
pub async fn rotate_key(id: Uuid, grace_hours: u32) -> Result<NewSecret, ConsoleError> {
    let (backend, by) = super::admin().await?;
    super::sudo().await?;
    backend.rotate_key(by, id, grace_hours).await
}

/// Refuses a key from now on.
#[server(input = Json)]
pub async fn revoke_key(id: Uuid) -> Result<ApiKey, ConsoleError> {
    let (backend, by) = super::admin().await?;
    super::sudo().await?;
    backend.revoke_key(by, id).await
}
