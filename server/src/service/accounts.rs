//! Account operations. Each one and the entry that records it commit in one transaction:
//! Trailkeep never changes who may do what without the log saying so.

use std::net::IpAddr;
use std::time::Duration;

use app::model::{ActorType, Role, SessionUser, Source, Status};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::two_factor;
use crate::domain::{
    auth::{self, Scope},
    entry::event::NewEvent,
};
use crate::storage::{entries, sessions, sign_ins, two_factor as two_factor_store, users};

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
            entries::AppendError::Conflict { id, .. }
            | entries::AppendError::Archived { id, .. } => {
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

pub use super::password_checks::{SignInLimits, LOCKOUT_FAILURES, LOCKOUT_MINUTES};

pub const SLOW_SPACING: Duration = Duration::from_secs(2);

pub(crate) use super::password_checks::PASSWORD_CHECKS;

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
    /// The password was right and the account has a second factor: no session yet. The
    /// challenge token (for a cookie scoped to the sign-in form) names the second step.
    CodeNeeded { challenge: String },
    /// The second factor's code was wrong (or used already); `attempts_left` as for a password.
    BadCode { attempts_left: i64 },
    /// The second step's challenge expired, was used, or its account can no longer sign in:
    /// start again with the password.
    ChallengeGone,
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
    if two_factor_store::enabled(&mut *tx, user.id).await? {
        // The password alone never opens a session: the second step does, once.
        let challenge = auth::new_session_token();
        two_factor_store::create_challenge(
            &mut tx,
            &auth::sha256(challenge.as_bytes()),
            user.id,
            two_factor::CHALLENGE_MINUTES,
        )
        .await?;
        tx.commit().await?;
        return Ok(SignIn::CodeNeeded { challenge });
    }
    let (session_user, token) =
        open_session(&mut tx, user, ip, user_agent, None, limits.session_hours).await?;
    tx.commit().await?;
    Ok(SignIn::Ok {
        user: session_user,
        token,
    })
}

/// Opens a session for `user` (in the sign-in's transaction) and records `user.login`, saying
/// which second factor was used, if any.
async fn open_session(
    tx: &mut sqlx::PgConnection,
    user: &users::UserRow,
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    second_factor: Option<two_factor::Used>,
    hours: u32,
) -> Result<(SessionUser, String), AccountError> {
    let token = auth::new_session_token();
    let token_hash = auth::sha256(token.as_bytes());
    sessions::create(
        tx,
        sessions::NewSession {
            user_id: user.id,
            token_hash: &token_hash,
            hours,
            ip,
            user_agent: user_agent.as_deref(),
        },
    )
    .await?;
    users::note_sign_in(tx, user.id).await?;
    let session_user = user.session_user();
    let by = Acting::user(&session_user, ip, user_agent);
    let mut login = by.event("user.login");
    login.record.details = json!({
        "method": "password",
        "second_factor": second_factor.map(two_factor::Used::as_str),
    });
    let mut events = vec![login];
    if let Some(two_factor::Used::RecoveryCode { left }) = second_factor {
        let mut used = by
            .event("2fa.recovery_code_used")
            .on("user", &user.id.to_string());
        used.record.details = json!({
            "email": user.email,
            "changes": {"recovery_codes_left": {"before": left + 1, "after": left}},
        });
        events.push(used);
    }
    entries::append_in(tx, Source::Trailkeep, events).await?;
    Ok((session_user, token))
}

/// The second step of a sign-in: the code of the account whose password opened `challenge`.
/// Counted with the password's failures (the same lockout and per-address limit, the same
/// locks), and more strictly: wrong codes lock the account's code step after
/// `email_failures` from anywhere (only someone who knows the password can send one), so
/// guessing codes from many addresses gains nothing. The challenge is deleted by the step that
/// opens the session, so it is used once. Locks in one order everywhere: the account's advisory
/// lock, the user's row, their second factor's row.
#[allow(clippy::too_many_arguments)]
pub async fn sign_in_code(
    pool: &PgPool,
    seal: Option<&crate::domain::sealed::SealKey>,
    challenge: &str,
    code: &str,
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    limits: SignInLimits,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<SignIn, AccountError> {
    let challenge_hash = auth::sha256(challenge.as_bytes());
    // An unknown challenge is answered without waiting for a turn among the password checks.
    let mut conn = pool.acquire().await?;
    if two_factor_store::find_challenge(&mut conn, &challenge_hash)
        .await?
        .is_none()
    {
        return Ok(SignIn::ChallengeGone);
    }
    drop(conn);
    let _check = PASSWORD_CHECKS.acquire().await.expect("never closed");
    let mut tx = pool.begin().await?;
    let Some(user) = two_factor_store::find_challenge(&mut tx, &challenge_hash).await? else {
        return Ok(SignIn::ChallengeGone);
    };
    let account = auth::sign_in_account_key(Some(user.id), &user.email);
    let block = ip.map(auth::address_block);
    let failures =
        sign_ins::lock_and_count(&mut tx, &account, block.as_deref(), limits.window_minutes)
            .await?;
    if failures.block >= limits.ip_failures {
        return Ok(SignIn::Throttled);
    }
    let own_entry = match block.as_deref() {
        Some(block) => sign_ins::this_minute(&mut tx, block).await? == 0,
        None => true,
    };
    let failed = |reason: sign_ins::Outcome| {
        let mut e = NewEvent::new("user.login_failed", ActorType::User, &user.id.to_string());
        e.record.actor_email = Some(user.email.clone());
        e.record.actor_name = Some(user.name.clone());
        e.record.ip = ip;
        e.record.user_agent = user_agent.clone();
        e.record.status = Status::Failure;
        e.record.details = json!({"reason": reason.as_str()});
        e
    };
    if failures.account_here >= limits.email_failures || failures.codes >= limits.email_failures {
        let outcome = sign_ins::Outcome::LockedOut;
        two_factor_store::take_challenge(&mut tx, &challenge_hash).await?;
        sign_ins::record_failure(&mut tx, &account, block.as_deref(), outcome, own_entry).await?;
        if own_entry {
            entries::append_in(&mut tx, Source::Trailkeep, vec![failed(outcome)]).await?;
        }
        tx.commit().await?;
        return Ok(SignIn::LockedOut);
    }
    let Some(seal) = seal else {
        return Err(AccountError::Invalid(
            "this server runs without the log's key file, so it cannot check second factors".into(),
        ));
    };
    // The user's row before their second factor's, as every change of it does.
    users::lock_active(&mut tx, user.id).await?;
    let used = match two_factor::check(&mut tx, seal, user.id, code, now).await {
        Ok(used) => used,
        Err(two_factor::TwoFactorError::Refused(app::two_factor::TwoFactorRefusal::NoKey)) => {
            return Err(AccountError::Invalid(
                "this account's second factor cannot be read with this server's key file: ask \
                 an admin to reset it"
                    .into(),
            ));
        }
        // Turned off or reset since the password step: start again.
        Err(two_factor::TwoFactorError::Refused(_)) => {
            two_factor_store::take_challenge(&mut tx, &challenge_hash).await?;
            tx.commit().await?;
            return Ok(SignIn::ChallengeGone);
        }
        Err(two_factor::TwoFactorError::Db(e)) => return Err(e.into()),
    };
    let Some(used) = used else {
        let outcome = sign_ins::Outcome::BadCode;
        sign_ins::record_failure(&mut tx, &account, block.as_deref(), outcome, own_entry).await?;
        if own_entry {
            entries::append_in(&mut tx, Source::Trailkeep, vec![failed(outcome)]).await?;
        }
        tx.commit().await?;
        return Ok(SignIn::BadCode {
            attempts_left: (limits.email_failures - failures.account_here - 1).max(0),
        });
    };
    if !two_factor_store::take_challenge(&mut tx, &challenge_hash).await? {
        return Ok(SignIn::ChallengeGone);
    }
    let (session_user, token) = open_session(
        &mut tx,
        &user,
        ip,
        user_agent,
        Some(used),
        limits.session_hours,
    )
    .await?;
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
                    "bad_code": g.bad_code,
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

/// Checks `typed` as `user`'s password in `tx`, under the sign-in lockout: a wrong one counts
/// as a failed sign-in from the caller's address (recorded as `user.login_failed` while
/// `doing`), so a stolen session cannot guess the password faster than the sign-in form.
/// Holds the account's advisory lock and the user's row until `tx` ends. When right, returns
/// the hash of `fresh` if given; when wrong, the caller commits `tx` (the failure counts).
async fn password_proven(
    tx: &mut sqlx::PgConnection,
    user: &SessionUser,
    typed: &str,
    fresh: Option<String>,
    by: &Acting,
    limits: SignInLimits,
    doing: &str,
) -> Result<Result<Option<String>, app::account::PasswordRefusal>, AccountError> {
    use app::account::PasswordRefusal;
    // The account's advisory lock before the user's row, as sign-in takes them.
    let key = auth::sign_in_account_key(Some(user.id), &user.email);
    let block = by.ip.map(auth::address_block);
    let failures =
        sign_ins::lock_and_count(&mut *tx, &key, block.as_deref(), limits.window_minutes).await?;
    // Locked for this address as sign-in is. Past the slow-down, from anywhere, checks are
    // spaced as sign-in's are: a stolen session guesses no faster than the sign-in form, and
    // outsiders failing sign-ins cannot stop the account's owner from confirming.
    let spacing = SLOW_SPACING.as_secs_f64();
    if failures.account_here >= limits.email_failures
        || failures.block >= limits.ip_failures
        || (failures.account >= limits.slow_after
            && failures.since_last.is_some_and(|s| s < spacing * 0.95))
    {
        return Ok(Err(PasswordRefusal::LockedOut));
    }
    let Some(row) = users::lock_active(&mut *tx, user.id).await? else {
        return Err(AccountError::Invalid("this account is deactivated".into()));
    };
    let (candidate, stored) = (typed.to_string(), row.password_hash.clone());
    let checked = tokio::task::spawn_blocking(move || {
        auth::verify_password(&candidate, &stored).then(|| fresh.map(|f| auth::hash_password(&f)))
    })
    .await
    .map_err(|e| AccountError::Invalid(format!("the password check failed: {e}")))?;
    match checked {
        Some(hash) => Ok(Ok(hash)),
        None => {
            let outcome = sign_ins::Outcome::BadPassword;
            sign_ins::record_failure(&mut *tx, &key, block.as_deref(), outcome, true).await?;
            let mut e = by.event("user.login_failed");
            e.record.status = Status::Failure;
            e.record.details = json!({"reason": outcome.as_str(), "while": doing});
            entries::append_in(&mut *tx, Source::Trailkeep, vec![e]).await?;
            Ok(Err(PasswordRefusal::WrongPassword))
        }
    }
}

/// Changes user `by.user`'s password from `current` to `new` (the invitation's rules): every
/// other session of theirs ends (all but `keep`, the SHA-256 of the session asking), and so do
/// sign-ins waiting for their code. The current password is checked under the sign-in lockout
/// ([`password_proven`]). Records `user.password_changed` (never a password or hash).
pub async fn change_password(
    pool: &PgPool,
    user: &SessionUser,
    keep: &[u8],
    current: &str,
    new: &str,
    by: &Acting,
    limits: SignInLimits,
) -> Result<Result<u64, app::account::PasswordRefusal>, AccountError> {
    use app::account::{new_password_problem, PasswordRefusal};
    if let Some(problem) = new_password_problem(new, &user.email) {
        return Ok(Err(problem));
    }
    if new == current {
        return Ok(Err(PasswordRefusal::Unchanged));
    }
    let _check = PASSWORD_CHECKS.acquire().await.expect("never closed");
    let mut tx = pool.begin().await?;
    let proven = password_proven(
        &mut tx,
        user,
        current,
        Some(new.to_string()),
        by,
        limits,
        "changing the password",
    )
    .await?;
    let hash = match proven {
        Ok(hash) => hash.expect("a new password was given"),
        Err(refusal) => {
            tx.commit().await?;
            return Ok(Err(refusal));
        }
    };
    users::set_password(&mut tx, user.id, &hash).await?;
    let ended = sessions::delete_others(&mut tx, user.id, keep).await?;
    two_factor_store::drop_challenges(&mut tx, user.id).await?;
    let mut event = by
        .event("user.password_changed")
        .on("user", &user.id.to_string());
    event.record.details = json!({
        "email": user.email,
        "changes": {"password": {"before": "(set)", "after": "(changed)"}},
        "other_sessions_ended": ended,
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(Ok(ended))
}

/// Confirms `user`'s password in session `session` (its SHA-256) for sensitive changes in the
/// next [`app::error::SUDO_MINUTES`] ("sudo mode"), under the sign-in lockout.
pub async fn confirm_password(
    pool: &PgPool,
    user: &SessionUser,
    session: &[u8],
    typed: &str,
    by: &Acting,
    limits: SignInLimits,
) -> Result<Result<(), app::account::PasswordRefusal>, AccountError> {
    let _check = PASSWORD_CHECKS.acquire().await.expect("never closed");
    let mut tx = pool.begin().await?;
    let proven = password_proven(
        &mut tx,
        user,
        typed,
        None,
        by,
        limits,
        "confirming the password",
    )
    .await?;
    if let Err(refusal) = proven {
        tx.commit().await?;
        return Ok(Err(refusal));
    }
    if !sessions::proven(&mut tx, session).await? {
        return Err(AccountError::Invalid("this session has ended".into()));
    }
    tx.commit().await?;
    Ok(Ok(()))
}

/// Ends `user`'s session `id` (one of theirs, not `current`, the asking one), recorded as
/// `session.revoked` with where and when it was opened; its live sockets close at once
/// (`domain::auth::may_end_access`).
pub async fn end_session(
    pool: &PgPool,
    user: &SessionUser,
    current_id: Uuid,
    id: Uuid,
    by: &Acting,
    lifetime: sessions::Lifetime,
) -> Result<Result<(), app::account::SessionRefusal>, AccountError> {
    use app::account::SessionRefusal;
    if id == current_id {
        return Ok(Err(SessionRefusal::Current));
    }
    let mut tx = pool.begin().await?;
    let Some(ended) = sessions::delete_one(&mut tx, user.id, id, lifetime).await? else {
        return Ok(Err(SessionRefusal::NotFound));
    };
    let mut event = by.event("session.revoked").on("session", &id.to_string());
    event.record.details = json!({
        "email": user.email,
        "session": {
            "created_at": ended.created_at,
            "last_seen_at": ended.last_seen_at,
            "ip": ended.ip,
            "user_agent": ended.user_agent,
        },
        "changes": {"status": {"before": "active", "after": "revoked"}},
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(Ok(()))
}
