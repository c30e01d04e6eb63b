//! Server functions of the Account page: each acts on the signed-in user's own account only
//! (whoever they are: every role has an account), never on an id the browser sends. API keys
//! cannot call them (server functions take only a session, see the server's guard).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::ConsoleError;
use crate::two_factor::{Enrolment, RecoveryCodes, TwoFactorStatus};

/// Whether the caller's second factor is on, and their recovery codes left.
#[server(input = Json)]
pub async fn my_two_factor() -> Result<TwoFactorStatus, ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    backend.two_factor(by).await
}

/// Starts enrolment: a new seed, shown once as a QR code and as text.
#[server(input = Json)]
pub async fn begin_two_factor() -> Result<Enrolment, ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    backend.begin_two_factor(by).await
}

/// Confirms enrolment with the app's current code: the recovery codes, shown once.
#[server(input = Json)]
pub async fn confirm_two_factor(code: String) -> Result<RecoveryCodes, ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    backend.confirm_two_factor(by, code).await
}

/// Turns the second factor off, proven by a current code or a recovery code.
#[server(input = Json)]
pub async fn disable_two_factor(code: String) -> Result<(), ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    backend.disable_two_factor(by, code).await
}

/// A new set of recovery codes (the old set stops working), proven by a current code.
#[server(input = Json)]
pub async fn new_recovery_codes(code: String) -> Result<RecoveryCodes, ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    backend.new_recovery_codes(by, code).await
}

/// Changes the caller's password, proven by the current one: their other sessions end.
/// Returns how many ended.
#[server(input = Json)]
pub async fn change_password(current: String, new: String) -> Result<u64, ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    let keep = leptos_axum::extract::<axum::Extension<crate::backend::CurrentSession>>()
        .await
        .map(|axum::Extension(session)| session)
        .map_err(|_| ConsoleError::SignedOut)?;
    backend.change_password(by, keep, current, new).await
}
