//! Server functions of invitations: admins invite, admins and compliance officers see the
//! pending ones, and the invitee (nobody is signed in yet) reads and accepts the invitation
//! whose token they hold. Those two are the only server functions the guard lets through
//! without a session; they answer only for a valid token (one refusal for every other), and
//! only a valid token costs a password hash.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::ConsoleError;
use crate::invitations::{Invitation, InvitationFor, NewInvitation};
use crate::model::Role;

/// Invites someone: the link's token is in this answer and nowhere else.
#[server(input = Json)]
pub async fn invite_user(
    email: String,
    name: String,
    role: Role,
) -> Result<NewInvitation, ConsoleError> {
    let (backend, by) = super::admin().await?;
    super::sudo().await?;
    backend.invite(by, email, name, role).await
}

/// The invitations not yet used, for admins and compliance officers.
#[server(input = Json)]
pub async fn pending_invitations() -> Result<Vec<Invitation>, ConsoleError> {
    let user = super::session_user().await?;
    if !matches!(user.role, Role::Admin | Role::Compliance) {
        return Err(ConsoleError::AdminOnly);
    }
    let (backend, _) = super::admin_backend(user).await?;
    backend.pending_invitations().await
}

#[cfg(feature = "ssr")]
fn public_backend() -> Result<crate::backend::SharedAdmin, ConsoleError> {
    use_context::<crate::backend::SharedAdmin>()
        .ok_or_else(|| ConsoleError::Broken("the admin backend is missing".into()))
}

/// Who the invitation `token` is for (public: the token is the credential).
#[server(input = Json)]
pub async fn read_invitation(token: String) -> Result<InvitationFor, ConsoleError> {
    public_backend()?.invitation_for(token).await
}

/// Accepts the invitation `token` with `password` (public: the token is the credential).
#[server(input = Json)]
pub async fn accept_invitation(token: String, password: String) -> Result<(), ConsoleError> {
    let facts = leptos_axum::extract::<axum::Extension<crate::backend::ClientFacts>>()
        .await
        .map(|axum::Extension(facts)| facts)
        .unwrap_or_default();
    public_backend()?
        .accept_invitation(token, password, facts)
        .await
}
