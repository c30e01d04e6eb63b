//! Changes to users from the Users page and the CLI: a role, deactivation, reactivation. Each
//! commits in one transaction with the entry that records it (source `trailkeep`, the user as
//! resource, before and after in `details.changes`), ends the user's sessions (their live
//! sockets follow at once: `domain::auth::may_end_access`), and never leaves the log without an
//! active admin: the active admins' rows are locked first in the changing transaction, so two
//! admins demoting or deactivating each other at the same moment cannot both succeed. An admin
//! demoted or deactivated takes the invitations they left pending with them.

use app::model::{Role, Source};
use app::users::{UserRefusal, UserView};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::acting::Acting;
use crate::storage::{entries, invitations, sessions, users};

/// Why a change to a user changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Refused(UserRefusal),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<UserRefusal> for UserError {
    fn from(r: UserRefusal) -> Self {
        UserError::Refused(r)
    }
}

impl From<entries::AppendError> for UserError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => UserError::Db(e),
            other => {
                tracing::error!(error = %other, "bug: Trailkeep's own entry was not appended");
                UserError::Db(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

pub async fn list(pool: &PgPool) -> Result<Vec<UserView>, sqlx::Error> {
    Ok(users::list(pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Locks the active admins, then user `id`: the admins first, always, so two changes never
/// wait for each other in opposite orders.
async fn locked(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(Vec<Uuid>, users::UserViewRow), UserError> {
    let admins = users::lock_active_admins(conn).await?;
    let user = users::lock(conn, id).await?.ok_or(UserRefusal::NotFound)?;
    Ok((admins, user))
}

/// Whether taking `user` out of the active admins would leave none.
fn last_admin(admins: &[Uuid], user: &users::UserViewRow) -> bool {
    admins == [user.id]
}

/// Records `action` on `user` with `changes`, and ends their sessions.
async fn recorded(
    conn: &mut PgConnection,
    by: &Acting,
    action: &str,
    user: &users::UserViewRow,
    changes: serde_json::Value,
) -> Result<(), UserError> {
    sessions::delete_for_user(conn, user.id).await?;
    let mut event = by.event(action).on("user", &user.id.to_string());
    event.record.details = json!({"email": user.email, "name": user.name, "changes": changes});
    entries::append_in(conn, Source::Trailkeep, vec![event]).await?;
    Ok(())
}

/// Gives user `id` `role`; their sessions end (they sign in again under it).
pub async fn change_role(
    pool: &PgPool,
    id: Uuid,
    role: Role,
    by: &Acting,
) -> Result<UserView, UserError> {
    let mut tx = pool.begin().await?;
    let (admins, before) = locked(&mut tx, id).await?;
    if before.role == role.as_str() {
        return Err(UserRefusal::Unchanged.into());
    }
    if role != Role::Admin && last_admin(&admins, &before) {
        return Err(UserRefusal::LastAdmin.into());
    }
    let after = users::set_role_of(&mut tx, id, role).await?;
    if before.role == Role::Admin.as_str() {
        // No longer an admin: the invitations they left pending go with it.
        invitations::revoke_by_inviter(&mut tx, id).await?;
    }
    let changes = json!({"role": {"before": before.role, "after": after.role}});
    recorded(&mut tx, by, "user.role_changed", &after, changes).await?;
    tx.commit().await?;
    Ok(after.into())
}

/// Deactivates user `id` at `now`: they cannot sign in, their sessions and live sockets end.
pub async fn deactivate(
    pool: &PgPool,
    id: Uuid,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<UserView, UserError> {
    let mut tx = pool.begin().await?;
    let (admins, before) = locked(&mut tx, id).await?;
    if before.deactivated_at.is_some() {
        return Err(UserRefusal::Unchanged.into());
    }
    if last_admin(&admins, &before) {
        return Err(UserRefusal::LastAdmin.into());
    }
    let after = users::set_deactivated(&mut tx, id, Some(now)).await?;
    invitations::revoke_by_inviter(&mut tx, id).await?;
    let changes = json!({"status": {"before": "active", "after": "deactivated"}});
    recorded(&mut tx, by, "user.deactivated", &after, changes).await?;
    tx.commit().await?;
    Ok(after.into())
}

/// Reactivates user `id`: they can sign in again (with their password, under their role).
pub async fn reactivate(pool: &PgPool, id: Uuid, by: &Acting) -> Result<UserView, UserError> {
    let mut tx = pool.begin().await?;
    let (_, before) = locked(&mut tx, id).await?;
    if before.deactivated_at.is_none() {
        return Err(UserRefusal::Unchanged.into());
    }
    let after = users::set_deactivated(&mut tx, id, None).await?;
    let changes = json!({"status": {"before": "deactivated", "after": "active"}});
    recorded(&mut tx, by, "user.reactivated", &after, changes).await?;
    tx.commit().await?;
    Ok(after.into())
}
