//! Account operations. Each one and the entry that records it commit in one transaction:
//! Trailkeep never changes who may do what without the log saying so.

use std::net::IpAddr;

use app::model::{ActorType, Role, SessionUser, Status};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{
    auth::{self, Scope},
    event::NewEvent,
};
use crate::storage::{api_keys, entries, sessions, users};

/// Who performs an account operation, and from where.
#[derive(Clone, Debug)]
pub struct Acting {
    pub actor_type: ActorType,
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Acting {
    /// The command line of the server host.
    pub fn cli() -> Self {
        Acting {
            actor_type: ActorType::System,
            id: "cli".into(),
            name: Some("trailkeep CLI".into()),
            email: None,
            ip: None,
            user_agent: None,
        }
    }

    pub fn user(user: &SessionUser, ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        Acting {
            actor_type: ActorType::User,
            id: user.id.to_string(),
            name: Some(user.name.clone()),
            email: Some(user.email.clone()),
            ip,
            user_agent,
        }
    }

    /// A client using an API key.
    pub fn key(key: &api_keys::ApiKeyRow, ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        Acting {
            actor_type: ActorType::ApiKey,
            id: key.id.to_string(),
            name: Some(key.name.clone()),
            email: None,
            ip,
            user_agent,
        }
    }

    /// How reports name who did it: email, else name, else id.
    pub fn label(&self) -> String {
        self.email
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.id.clone())
    }

    pub fn event(&self, action: &str) -> NewEvent {
        let mut e = NewEvent::new(action, self.actor_type, &self.id);
        e.record.actor_name = self.name.clone();
        e.record.actor_email = self.email.clone();
        e.record.ip = self.ip;
        e.record.user_agent = self.user_agent.clone();
        e
    }
}

#[derive(Debug)]
pub enum AccountError {
    Invalid(String),
    Db(sqlx::Error),
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountError::Invalid(m) => f.write_str(m),
            AccountError::Db(e) => write!(f, "database error: {e}"),
        }
    }
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        AccountError::Db(e)
    }
}

impl From<entries::AppendError> for AccountError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => AccountError::Db(e),
            entries::AppendError::Conflict { id, .. } => {
                AccountError::Invalid(format!("id {id} conflicts"))
            }
        }
    }
}

fn valid_email(email: &str) -> bool {
    let parts: Vec<&str> = email.split('@').collect();
    parts.len() == 2
        && !parts[0].is_empty()
        && parts[1].contains('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.len() <= 254
}

pub async fn create_user(
    pool: &PgPool,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
    by: &Acting,
) -> Result<Uuid, AccountError> {
    let email = email.trim();
    let name = name.trim();
    if !valid_email(email) {
        return Err(AccountError::Invalid(format!(
            "{email:?} is not an email address"
        )));
    }
    if name.is_empty() || name.len() > 200 {
        return Err(AccountError::Invalid(
            "the name must have 1 to 200 characters".into(),
        ));
    }
    if password.chars().count() < auth::MIN_PASSWORD_LEN {
        return Err(AccountError::Invalid(format!(
            "the password must have at least {} characters",
            auth::MIN_PASSWORD_LEN
        )));
    }
    if users::exists(pool, email).await? {
        return Err(AccountError::Invalid(format!(
            "a user with email {email} already exists"
        )));
    }
    let hash = auth::hash_password(password);
    let mut tx = pool.begin().await?;
    let id = users::insert(&mut tx, email, name, role, &hash).await?;
    let mut event = by.event("user.invited").on("user", &id.to_string());
    event.record.details = json!({"email": email, "name": name, "role": role.as_str()});
    entries::append_in(&mut tx, vec![event]).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn set_role(
    pool: &PgPool,
    email: &str,
    role: Role,
    by: &Acting,
) -> Result<(), AccountError> {
    let mut tx = pool.begin().await?;
    let Some((id, before)) = users::set_role(&mut tx, email, role).await? else {
        return Err(AccountError::Invalid(format!("no user with email {email}")));
    };
    let mut event = by.event("user.role_changed").on("user", &id.to_string());
    event.record.details =
        json!({"email": email, "changes": {"role": {"before": before, "after": role.as_str()}}});
    entries::append_in(&mut tx, vec![event]).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates an API key; the plaintext is returned once and never stored.
pub async fn create_key(
    pool: &PgPool,
    name: &str,
    scopes: &[Scope],
    by: &Acting,
) -> Result<(Uuid, String), AccountError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AccountError::Invalid(
            "the key name must have 1 to 200 characters".into(),
        ));
    }
    let key = auth::new_api_key();
    let mut tx = pool.begin().await?;
    let id = api_keys::insert(&mut tx, name, &key.prefix, &key.hash, scopes).await?;
    let mut event = by.event("key.created").on("api_key", &id.to_string());
    event.record.details = json!({
        "name": name,
        "prefix": key.prefix,
        "scopes": scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    });
    entries::append_in(&mut tx, vec![event]).await?;
    tx.commit().await?;
    Ok((id, key.plaintext))
}

pub async fn revoke_key(
    pool: &PgPool,
    id_or_prefix: &str,
    by: &Acting,
) -> Result<api_keys::ApiKeyRow, AccountError> {
    let mut tx = pool.begin().await?;
    let Some(key) = api_keys::revoke(&mut tx, id_or_prefix).await? else {
        return Err(AccountError::Invalid(format!(
            "no active key {id_or_prefix:?}"
        )));
    };
    let mut event = by.event("key.revoked").on("api_key", &key.id.to_string());
    event.record.details = json!({"name": key.name, "prefix": key.prefix});
    entries::append_in(&mut tx, vec![event]).await?;
    tx.commit().await?;
    Ok(key)
}

pub const LOCKOUT_FAILURES: i64 = 5;
pub const LOCKOUT_MINUTES: i32 = 15;

pub enum SignIn {
    /// Signed in: the session token for the cookie.
    Ok {
        user: SessionUser,
        token: String,
    },
    BadCredentials,
    LockedOut,
}

/// Checks a password, records the attempt, and opens a session on success.
pub async fn sign_in(
    pool: &PgPool,
    email: &str,
    password: &str,
    ip: Option<IpAddr>,
    user_agent: Option<String>,
) -> Result<SignIn, AccountError> {
    let email = email.trim();
    let failed = |reason: &str, user: Option<&users::UserRow>| {
        let mut e = NewEvent::new(
            "user.login_failed",
            ActorType::User,
            &user
                .map(|u| u.id.to_string())
                .unwrap_or_else(|| email.to_lowercase()),
        );
        e.record.actor_email = Some(email.to_string());
        e.record.actor_name = user.map(|u| u.name.clone());
        e.record.ip = ip;
        e.record.user_agent = user_agent.clone();
        e.record.status = Status::Failure;
        e.record.details = json!({"reason": reason});
        e
    };
    if entries::recent_login_failures(pool, email, LOCKOUT_MINUTES).await? >= LOCKOUT_FAILURES {
        entries::append(pool, vec![failed("locked_out", None)]).await?;
        return Ok(SignIn::LockedOut);
    }
    let user = users::find_by_email(pool, email).await?;
    let Some(user) = user else {
        auth::verify_password_against_nothing(password);
        entries::append(pool, vec![failed("unknown_user", None)]).await?;
        return Ok(SignIn::BadCredentials);
    };
    if !auth::verify_password(password, &user.password_hash) {
        entries::append(pool, vec![failed("bad_password", Some(&user))]).await?;
        return Ok(SignIn::BadCredentials);
    }
    let token = auth::new_session_token();
    sessions::create(pool, user.id, &auth::sha256(token.as_bytes())).await?;
    let session_user = user.session_user();
    let mut event = Acting::user(&session_user, ip, user_agent).event("user.login");
    event.record.details = json!({"method": "password"});
    entries::append(pool, vec![event]).await?;
    Ok(SignIn::Ok {
        user: session_user,
        token,
    })
}

pub async fn sign_out(pool: &PgPool, token: &str, by: &Acting) -> Result<(), AccountError> {
    sessions::delete(pool, &auth::sha256(token.as_bytes())).await?;
    entries::append(pool, vec![by.event("user.logout")]).await?;
    Ok(())
}
