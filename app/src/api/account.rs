//! Server functions of the Account page: each acts on the signed-in user's own account only
//! (whoever they are: every role has an account), never on an id the browser sends. API keys
//! cannot call them (server functions take only a session, see the server's guard).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::account::SessionView;
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
    super::sudo().await?;
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
    super::sudo().await?;
    backend.disable_two_factor(by, code).await
}

/// A new set of recovery codes (the old set stops working), proven by a current code.
#[server(input = Json)]
pub async fn new_recovery_codes(code: String) -> Result<RecoveryCodes, ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    super::sudo().await?;
    backend.new_recovery_codes(by, code).await
}

/// Changes the caller's password, proven by the current one: their other sessions end.
/// Returns how many ended.
#[server(input = Json)]
pub async fn change_password(current: String, new: String) -> Result<u64, ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    let keep = super::current_session().await?;
    backend.change_password(by, keep, current, new).await
}

/// Proves the caller's password again: sensitive changes are allowed for the next
/// [`crate::error::SUDO_MINUTES`] minutes. Wrong passwords count toward the sign-in lockout.
#[server(input = Json)]
pub async fn confirm_password(password: String) -> Result<(), ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    let current = super::current_session().await?;
    backend.confirm_password(by, current, password).await
}

/// The caller's live sessions, the one asking marked.
#[server(input = Json)]
pub async fn my_sessions() -> Result<Vec<SessionView>, ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    let current = super::current_session().await?;
    backend.sessions(by, current).await
}

/// Ends one of the caller's other sessions (its live sockets close too).
#[server(input = Json)]
pub async fn end_session(id: uuid::Uuid) -> Result<(), ConsoleError> {
    let (backend, by) = super::admin_backend(super::session_user().await?).await?;
    let current = super::current_session().await?;
    backend.end_session(by, current, id).await
}
