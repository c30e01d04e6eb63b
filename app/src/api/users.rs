//! Server functions of the Users page: admins change, compliance officers only look; checked
//! here on every call (the page hiding a control is not a check). API keys cannot call them
//! (server functions take only a session, see the server's guard).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::model::Role;
use crate::users::UserView;

/// Every user, by name: for admins and compliance officers.
#[server(input = Json)]
pub async fn list_users() -> Result<Vec<UserView>, ConsoleError> {
    let user = super::session_user().await?;
    if !matches!(user.role, Role::Admin | Role::Compliance) {
        return Err(ConsoleError::AdminOnly);
    }
    let (backend, _) = super::admin_backend(user).await?;
    backend.users().await
}

/// Gives a user another role: their sessions end, and the last active admin stays one.
#[server(input = Json)]
pub async fn change_role(id: Uuid, role: Role) -> Result<UserView, ConsoleError> {
    let (backend, by) = super::admin().await?;
    super::sudo().await?;
    backend.change_role(by, id, role).await
}

/// Deactivates (`active: false`) or reactivates a user.
#[server(input = Json)]
pub async fn set_user_active(id: Uuid, active: bool) -> Result<UserView, ConsoleError> {
    let (backend, by) = super::admin().await?;
    super::sudo().await?;
    backend.set_active(by, id, active).await
}

/// Turns a user's second factor off (a lost phone): their sessions end, and they enrol again.
#[server(input = Json)]
pub async fn reset_two_factor(id: Uuid) -> Result<UserView, ConsoleError> {
    let (backend, by) = super::admin().await?;
    super::sudo().await?;
    backend.reset_two_factor(by, id).await
}
