//! Invitations: an admin invites someone (a one-time link, valid for a configured time, only
//! its hash kept; a newer invitation for the same email replaces the pending one), and the
//! invitee accepts it with a password of their own. Accepting is one conditional UPDATE in the
//! transaction that creates the account, so two tabs cannot both use a link; a password that
//! breaks the rules is refused before the invitation is touched. Each step commits with its
//! entry (`user.invited` by the admin, `user.invitation_accepted` by the new user); no token
//! or hash is ever in an entry or a log line.

use app::invitations::{self, InvitationFor, InviteRefusal};
use app::model::{Role, SessionUser, Source};
use chrono::{DateTime, Utc};
use rand_core::{OsRng, RngCore};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::acting::Acting;
use crate::domain::auth;
use crate::storage::{entries, invitations as stored, users};

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("{0}")]
    Refused(InviteRefusal),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<InviteRefusal> for InviteError {
    fn from(r: InviteRefusal) -> Self {
        InviteError::Refused(r)
    }
}

impl From<entries::AppendError> for InviteError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => InviteError::Db(e),
            other => {
                tracing::error!(error = %other, "bug: Trailkeep's own entry was not appended");
                InviteError::Db(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

/// Whether a database error is the unique email of `users`.
fn duplicate_email(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.constraint() == Some("users_email_key"))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{}{}", invitations::TOKEN_PREFIX, hex::encode(bytes))
}

/// Invites `email` as `role`, usable until `now + valid`; the token is returned once.
pub async fn invite(
    pool: &PgPool,
    email: &str,
    name: &str,
    role: Role,
    by: &Acting,
    now: DateTime<Utc>,
    valid: std::time::Duration,
) -> Result<app::invitations::NewInvitation, InviteError> {
    let email = email.trim();
    let name = name.trim();
    if !super::accounts::valid_email(email) {
        return Err(InviteRefusal::BadEmail.into());
    }
    if name.is_empty() || name.contains(|c: char| c.is_control()) {
        return Err(InviteRefusal::NoName.into());
    }
    if name.chars().count() > 200 {
        return Err(InviteRefusal::NameTooLong.into());
    }
    if users::exists(pool, email).await? {
        return Err(InviteRefusal::AlreadyUser.into());
    }
    let token = new_token();
    let expires_at =
        now + chrono::Duration::from_std(valid).unwrap_or_else(|_| chrono::Duration::hours(72));
    let mut tx = pool.begin().await?;
    let replaced = stored::revoke_pending(&mut tx, email, now).await?;
    let inserted = stored::insert(
        &mut tx,
        stored::NewInvitationRow {
            token_hash: &auth::sha256(token.as_bytes()),
            email,
            name,
            role,
            invited_by: &by.label(),
            invited_by_id: (by.actor_type == app::model::ActorType::User)
                .then(|| Uuid::parse_str(&by.id).ok())
                .flatten(),
            expires_at,
        },
    )
    .await;
    let row = match inserted {
        Ok(row) => row,
        // Another admin's invitation for this email, committed meanwhile.
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.constraint() == Some("invitations_pending_key")) =>
        {
            return Err(InviteRefusal::JustInvited.into())
        }
        Err(e) => return Err(e.into()),
    };
    let mut event = by
        .event("user.invited")
        .on("invitation", &row.id.to_string());
    event.record.details = json!({
        "email": email,
        "name": name,
        "role": role.as_str(),
        "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "replaced_pending": replaced,
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(app::invitations::NewInvitation {
        invitation: row.into(),
        token,
    })
}

/// What the invitee's page shows: for a usable token only (one refusal for every other).
pub async fn describe(
    pool: &PgPool,
    token: &str,
    now: DateTime<Utc>,
) -> Result<InvitationFor, InviteError> {
    if !invitations::token_shape(token) {
        return Err(InviteRefusal::NotValid.into());
    }
    let row = stored::find_usable(pool, &auth::sha256(token.as_bytes()), now)
        .await?
        .ok_or(InviteRefusal::NotValid)?;
    Ok(InvitationFor {
        email: row.email,
        name: row.name,
        role: Role::parse(&row.role).unwrap_or(Role::Member),
        expires_at: row.expires_at,
    })
}

/// Accepts the invitation `token` names with `password`: the account exists when this
/// returns, recorded as `user.invitation_accepted` by the new user from `ip` and `user_agent`.
pub async fn accept(
    pool: &PgPool,
    token: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
    user_agent: Option<String>,
    now: DateTime<Utc>,
) -> Result<SessionUser, InviteError> {
    let invited = describe(pool, token, now).await?;
    // Checked before the invitation is used: a refused password leaves the link usable.
    if let Some(problem) = invitations::password_problem(password, &invited.email) {
        return Err(problem.into());
    }
    // Argon2 on the blocking pool, as many at once as sign-in allows (never a stalled runtime,
    // whatever a holder of a valid link sends).
    let hash = {
        let _check = super::password_checks::PASSWORD_CHECKS
            .acquire()
            .await
            .expect("never closed");
        let candidate = password.to_string();
        tokio::task::spawn_blocking(move || auth::hash_password(&candidate))
            .await
            .map_err(|e| InviteError::Db(sqlx::Error::Protocol(e.to_string())))?
    };
    let id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    let Some(row) = stored::accept(&mut tx, &auth::sha256(token.as_bytes()), id, now).await? else {
        // Another tab used it (or it expired) since it was read.
        return Err(InviteRefusal::NotValid.into());
    };
    let role = Role::parse(&row.role).unwrap_or(Role::Member);
    if let Err(e) = users::insert_as(&mut tx, id, &row.email, &row.name, role, &hash).await {
        return Err(if duplicate_email(&e) {
            InviteRefusal::AlreadyUser.into()
        } else {
            e.into()
        });
    }
    let user = SessionUser {
        id,
        email: row.email.clone(),
        name: row.name.clone(),
        role,
    };
    let mut event = Acting::user(&user, ip, user_agent)
        .event("user.invitation_accepted")
        .on("user", &id.to_string());
    event.record.details = json!({
        "email": row.email,
        "role": role.as_str(),
        "invited_by": row.invited_by,
        "invitation": row.id,
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn pending(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Vec<app::invitations::Invitation>, sqlx::Error> {
    Ok(stored::pending(pool, now)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}
