//! Account operations. Each one and the entry that records it commit in one transaction:
//! Trailkeep never changes who may do what without the log saying so.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use app::model::{ActorType, Role, SessionUser, Source, Status};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::domain::{
    auth::{self, Scope},
    entry::event::NewEvent,
};
use crate::storage::{entries, sessions, sign_ins, users};

pub use super::acting::Acting;

/// Why an account operation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The request cannot be carried out as asked (its words are shown to whoever asked).
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<entries::AppendError> for AccountError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => AccountError::Db(e),
            e @ entries::AppendError::Unfaithful { .. } => {
                tracing::error!(error = %e, "bug: an entry was not stored as it was hashed");
                AccountError::Db(sqlx::Error::Protocol(e.to_string()))
            }
            entries::AppendError::Conflict { id, .. } => {
                AccountError::Invalid(format!("id {id} conflicts"))
            }
        }
    }
}

pub(crate) fn valid_email(email: &str) -> bool {
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
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(id)
}

/// Gives the user with `email` `role` (the CLI's `user set-role`): as the Users page does,
/// never leaving no active admin (`service::users`).
pub async fn set_role(
    pool: &PgPool,
    email: &str,
    role: Role,
    by: &Acting,
) -> Result<(), AccountError> {
    let Some(id) = users::id_by_email(pool, email).await? else {
        return Err(AccountError::Invalid(format!("no user with email {email}")));
    };
    match super::users::change_role(pool, id, role, by).await {
        // Already so: what a re-run provisioning script asks, done.
        Ok(_) | Err(super::users::UserError::Refused(app::users::UserRefusal::Unchanged)) => Ok(()),
        Err(super::users::UserError::Refused(app::users::UserRefusal::LastAdmin)) => {
            Err(AccountError::Invalid(
                "this is the last active admin: make someone else admin first".into(),
            ))
        }
        Err(super::users::UserError::Refused(r)) => Err(AccountError::Invalid(r.to_string())),
        Err(super::users::UserError::Db(e)) => Err(AccountError::Db(e)),
    }
}

impl From<super::keys::KeyError> for AccountError {
    fn from(e: super::keys::KeyError) -> Self {
        match e {
            super::keys::KeyError::Refused(r) => AccountError::Invalid(r.to_string()),
            super::keys::KeyError::Db(e) => AccountError::Db(e),
        }
    }
}

/// A key that never expires, as the CLI, the demo and the tests make them (the console's
/// workflows, expiry and rotation included, are in `service::keys`).
pub async fn create_key(
    pool: &PgPool,
    name: &str,
    scopes: &[Scope],
    by: &Acting,
) -> Result<(Uuid, String), AccountError> {
    let spec = super::keys::KeySpec {
        name,
        scopes,
        expires_in_days: None,
    };
    let (key, secret) = super::keys::create(pool, spec, by, chrono::Utc::now()).await?;
    Ok((key.id, secret))
}

/// Revokes the key named by its id or by its current secret's prefix.
pub async fn revoke_key(
    pool: &PgPool,
    id_or_prefix: &str,
    by: &Acting,
) -> Result<app::keys::ApiKey, AccountError> {
    let id = super::keys::resolve(pool, id_or_prefix).await?;
    Ok(super::keys::revoke(pool, id, by, chrono::Utc::now()).await?)
}

/// How sign-in refuses guessing, within a sliding window: per account from one address
/// block, per address block, and a slow-down per account.
#[derive(Clone, Copy, Debug)]
pub struct SignInLimits {
    /// Failed passwords for one account from one address block (`/64` for IPv6) that lock the
    /// account for that block (only) for the window.
    pub email_failures: i64,
    /// Refused attempts from one address block after which it is not heard for the window.
    pub ip_failures: i64,
    /// Failures on one account from anywhere after which its checks are spaced out.
    pub slow_after: i64,
    pub window_minutes: i32,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            email_failures: LOCKOUT_FAILURES,
            ip_failures: 30,
            slow_after: 10,
            window_minutes: LOCKOUT_MINUTES,
        }
    }
}

/// The least time between two password checks on an account past its slow-down: at most
/// `slow_after` + 15 min / 2 s = 460 guesses per account in a 15-minute window, from any
/// number of addresses.
pub const SLOW_SPACING: Duration = Duration::from_secs(2);

pub const LOCKOUT_FAILURES: i64 = 5;
pub const LOCKOUT_MINUTES: i32 = 15;

/// Passwords checked at once by this process. Argon2id takes a core for tens of
/// milliseconds and runs on the blocking pool; each check also holds a database connection,
/// so a burst of sign-ins waits here instead of stalling requests or draining the pool.
pub(crate) static PASSWORD_CHECKS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

pub enum SignIn {
    /// Signed in: the session token for the cookie.
    Ok { user: SessionUser, token: String },
    /// The email or the password is wrong. `attempts_left`: further failures for this account
    /// from this address block before it locks for the window (the same for an unknown email,
    /// so the count tells nothing about which accounts exist).
    BadCredentials { attempts_left: i64 },
    /// Too many failures for this email in the window.
    LockedOut,
    /// Too many refused attempts from this address in the window.
    Throttled,
}

/// What the log may keep of an email typed into the form for an unknown account: the
/// address itself if it looks like one (bounded), never free text such as a password typed
/// into the wrong field.
fn typed_email_for_the_log(typed: &str, password: &str) -> Option<String> {
    let looks_like_an_address = typed.len() <= 254
        && typed != password
        && !typed.chars().any(|c| c.is_whitespace() || c.is_control())
        && typed.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    looks_like_an_address.then(|| typed.to_lowercase())
}

/// Checks a password, records the attempt, and opens a session on success.
///
/// Attempts on one email (and from one address) are serialised by advisory locks held in the
/// attempt's transaction, and counted from `sign_in_attempts`, which only this function
/// writes: parallel guesses get exactly `email_failures` tries, and no event an API key sends
/// can lock anyone out.
pub async fn sign_in(
    pool: &PgPool,
    email: &str,
    password: &str,
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    limits: SignInLimits,
) -> Result<SignIn, AccountError> {
    let typed = email.trim();
    // Past `slow_after` failures on the account from anywhere, its password checks are spaced
    // `SLOW_SPACING` apart: however many addresses guess, the guesses stay bounded. The wait
    // happens here, holding nothing (no lock, no connection, no place among the password
    // checks), so guessers cannot slow anyone else; under the account's lock below, an attempt
    // that still comes too soon is answered "try again in a moment" without a check.
    let spacing = SLOW_SPACING.as_secs_f64();
    let found = users::find_by_email(pool, typed).await?;
    let account = auth::sign_in_account_key(found.as_ref().map(|u| u.id), typed);
    let (failed, since_last) = sign_ins::peek(pool, &account, limits.window_minutes).await?;
    if failed >= limits.slow_after {
        if let Some(since) = since_last.filter(|s| *s < spacing) {
            tokio::time::sleep(Duration::from_secs_f64(spacing - since)).await;
        }
    }
    let _check = PASSWORD_CHECKS.acquire().await.expect("never closed");
    let mut tx = pool.begin().await?;
    // The account PostgreSQL matches decides what failures count against, never how the
    // address was spelled (U+0130, upper case): one key per account.
    let user = users::find_by_email(&mut *tx, typed).await?;
    let email_key = auth::sign_in_account_key(user.as_ref().map(|u| u.id), typed);
    let block = ip.map(auth::address_block);
    let failures =
        sign_ins::lock_and_count(&mut tx, &email_key, block.as_deref(), limits.window_minutes)
            .await?;
    if failures.block >= limits.ip_failures {
        // Nothing recorded: a flood from one address adds nothing to the log or the table.
        return Ok(SignIn::Throttled);
    }
    if failures.account >= limits.slow_after
        && failures.since_last.is_some_and(|s| s < spacing * 0.95)
    {
        // Another attempt on this account took the turn: nothing checked, nothing recorded.
        return Ok(SignIn::Throttled);
    }
    let failed = |reason: sign_ins::Outcome| {
        let shown = typed_email_for_the_log(typed, password);
        let mut e = NewEvent::new(
            "user.login_failed",
            ActorType::User,
            &user
                .as_ref()
                .map(|u| u.id.to_string())
                .or_else(|| shown.clone())
                .unwrap_or_else(|| "(not an email address)".into()),
        );
        e.record.actor_email = user.as_ref().map(|u| u.email.clone()).or(shown);
        e.record.actor_name = user.as_ref().map(|u| u.name.clone());
        e.record.ip = ip;
        e.record.user_agent = user_agent.clone();
        e.record.status = Status::Failure;
        e.record.details = json!({"reason": reason.as_str()});
        e
    };
    // From a known address block, only the first refused attempt of each minute is an entry
    // of its own; the summariser records the others after their minute, counted.
    let own_entry = match block.as_deref() {
        Some(block) => sign_ins::this_minute(&mut tx, block).await? == 0,
        None => true,
    };
    if failures.account_here >= limits.email_failures {
        let outcome = sign_ins::Outcome::LockedOut;
        sign_ins::record_failure(&mut tx, &email_key, block.as_deref(), outcome, own_entry).await?;
        if own_entry {
            entries::append_in(&mut tx, Source::Trailkeep, vec![failed(outcome)]).await?;
        }
        tx.commit().await?;
        return Ok(SignIn::LockedOut);
    }
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let candidate = password.to_string();
    let matches = tokio::task::spawn_blocking(move || match stored_hash {
        Some(hash) => auth::verify_password(&candidate, &hash),
        None => {
            // The same work as for a real account: timing does not tell which emails exist.
            auth::verify_password_against_nothing(&candidate);
            false
        }
    })
    .await
    .map_err(|e| AccountError::Invalid(format!("the password check failed: {e}")))?;
    let user = match (&user, matches) {
        (Some(user), true) => user,
        _ => {
            let outcome = if user.is_some() {
                sign_ins::Outcome::BadPassword
            } else {
                sign_ins::Outcome::UnknownUser
            };
            sign_ins::record_failure(&mut tx, &email_key, block.as_deref(), outcome, own_entry)
                .await?;
            if own_entry {
                entries::append_in(&mut tx, Source::Trailkeep, vec![failed(outcome)]).await?;
            }
            tx.commit().await?;
            return Ok(SignIn::BadCredentials {
                attempts_left: (limits.email_failures - failures.account_here - 1).max(0),
            });
        }
    };
    let token = auth::new_session_token();
    sessions::create(&mut tx, user.id, &auth::sha256(token.as_bytes())).await?;
    users::note_sign_in(&mut tx, user.id).await?;
    let session_user = user.session_user();
    let mut event = Acting::user(&session_user, ip, user_agent).event("user.login");
    event.record.details = json!({"method": "password"});
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(SignIn::Ok {
        user: session_user,
        token,
    })
}

/// Records, as one `user.login_failed` entry per address block and minute, the refused
/// sign-ins of minutes already over that have no entry of their own (each block's first of a
/// minute has one). One process at a time (an advisory lock); returns the entries appended.
pub async fn summarise_sign_ins(pool: &PgPool) -> Result<usize, AccountError> {
    let mut tx = pool.begin().await?;
    if !sign_ins::try_lock_summariser(&mut tx).await? {
        return Ok(0);
    }
    let groups = sign_ins::take_unlogged(&mut tx).await?;
    let events: Vec<NewEvent> = groups
        .iter()
        .map(|g| {
            let mut e = NewEvent::new("user.login_failed", ActorType::User, "(repeated attempts)");
            // The block's first address stands for it; `details.block` names the block.
            e.record.ip = g.block.split('/').next().and_then(|a| a.parse().ok());
            e.record.status = Status::Failure;
            e.record.details = json!({
                "reason": "repeated",
                "summary": {
                    "block": g.block,
                    "minute": crate::domain::export::format::timestamp(&g.minute),
                    "attempts": g.attempts,
                    "accounts": g.accounts,
                    "bad_password": g.bad_password,
                    "unknown_user": g.unknown_user,
                    "locked_out": g.locked_out,
                },
            });
            e
        })
        .collect();
    let n = events.len();
    entries::append_in(&mut tx, Source::Trailkeep, events).await?;
    tx.commit().await?;
    Ok(n)
}

/// Every 10 s until `stop` resolves: summarise the refused sign-ins of the minutes past.
pub async fn run_sign_in_summaries(pool: PgPool, stop: impl std::future::Future<Output = ()>) {
    let pool = &pool;
    super::periodic::every(Duration::from_secs(10), stop, || async move {
        if let Err(e) = summarise_sign_ins(pool).await {
            tracing::warn!(error = %e, "summarising refused sign-ins failed; retrying");
        }
    })
    .await
}

/// `trailkeep user unlock --email E`: forgets the failed sign-ins counted against the account,
/// recorded as `user.unlocked`. Returns how many were forgotten.
pub async fn unlock(pool: &PgPool, email: &str, by: &Acting) -> Result<u64, AccountError> {
    let mut tx = pool.begin().await?;
    let user = users::find_by_email(&mut *tx, email.trim())
        .await?
        .ok_or_else(|| AccountError::Invalid(format!("no active user has the email {email:?}")))?;
    let key = auth::sign_in_account_key(Some(user.id), &user.email);
    let forgotten = sign_ins::forget(&mut tx, &key).await?;
    let mut event = by.event("user.unlocked").on("user", &user.id.to_string());
    event.record.details = json!({"email": user.email, "failures_forgotten": forgotten});
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(forgotten)
}

pub async fn sign_out(pool: &PgPool, token: &str, by: &Acting) -> Result<(), AccountError> {
    sessions::delete(pool, &auth::sha256(token.as_bytes())).await?;
    entries::append(pool, Source::Trailkeep, vec![by.event("user.logout")]).await?;
    Ok(())
}
