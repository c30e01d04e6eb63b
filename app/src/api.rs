//! Server functions the console calls. Each checks the signed-in user itself: the guard in
//! front of them only establishes who that is.

use leptos::prelude::*;

use crate::model::{AuditEntry, SessionUser};

/// The error text a server function returns when the user's role may not read the log.
pub const NO_ACCESS: &str = "no_access";
/// The error text when nobody is signed in (the session expired while the page was open).
pub const SIGNED_OUT: &str = "signed_out";

#[cfg(feature = "ssr")]
async fn session_user() -> Result<SessionUser, ServerFnError> {
    leptos_axum::extract::<axum::Extension<SessionUser>>()
        .await
        .map(|axum::Extension(user)| user)
        .map_err(|_| ServerFnError::new(SIGNED_OUT))
}

/// Who is signed in, for the header.
#[server]
pub async fn whoami() -> Result<SessionUser, ServerFnError> {
    session_user().await
}

/// The newest entries of the log, newest first (at most 100).
#[server]
pub async fn recent_entries() -> Result<Vec<AuditEntry>, ServerFnError> {
    let user = session_user().await?;
    if !user.role.can_read_log() {
        return Err(ServerFnError::new(NO_ACCESS));
    }
    let backend = use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("console backend missing"))?;
    backend
        .recent_entries(100)
        .await
        .map_err(ServerFnError::new)
}
