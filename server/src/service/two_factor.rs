//! A user's second factor: enrolment (a sealed seed, confirmed by one code, with ten recovery
//! codes shown once), the check that sign-in's second step and every later change make, and
//! its removal (by its user with a current code, or by an admin's reset). Every change commits
//! in one transaction with the entry that records it (`2fa.*`, the user as resource, before and
//! after in `details.changes`); no seed, code or hash ever reaches an entry or a log line.
//!
//! A code counts once: a time-based code only for a step later than the last one accepted
//! (`storage::two_factor::accept_step`, one conditional UPDATE), a recovery code by the one
//! UPDATE that marks it used.

use app::model::Source;
use app::two_factor::{Enrolment, RecoveryCodes, TwoFactorRefusal, TwoFactorStatus};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::acting::Acting;
use super::password_checks::{SignInLimits, PASSWORD_CHECKS};
use crate::domain::{auth, sealed::SealKey, two_factor};
use crate::storage::{entries, sessions, sign_ins, two_factor as store, users};

/// The label the seeds' sealing key is derived under (`SigningKey::seal_key`).
pub const SEAL_LABEL: &str = "trailkeep totp seeds v1";

/// Minutes the second step of a sign-in waits for its code.
pub const CHALLENGE_MINUTES: i32 = 5;

/// Why a second-factor operation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    #[error("{0}")]
    Refused(TwoFactorRefusal),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<TwoFactorRefusal> for TwoFactorError {
    fn from(r: TwoFactorRefusal) -> Self {
        TwoFactorError::Refused(r)
    }
}

impl From<entries::AppendError> for TwoFactorError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => TwoFactorError::Db(e),
            other => {
                tracing::error!(error = %other, "bug: Trailkeep's own entry was not appended");
                TwoFactorError::Db(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

/// What a sealed seed is bound to: its user.
fn context(user_id: Uuid) -> [u8; 16] {
    *user_id.as_bytes()
}

fn unix(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}

/// Which second factor a check accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    /// The authenticator app's current code.
    Code,
    /// A recovery code; `left`: unused ones after it.
    RecoveryCode { left: i64 },
}

impl Used {
    /// How entries name it (`user.login`'s `second_factor`).
    pub fn as_str(self) -> &'static str {
        match self {
            Used::Code => "totp",
            Used::RecoveryCode { .. } => "recovery_code",
        }
    }
}

/// Checks `code` (the app's 6 digits, or a recovery code) for user `user_id`'s confirmed
/// second factor, in the caller's transaction, and uses it up: `None` if it is wrong or was
/// used. Argon2 runs on the blocking pool; the caller holds a turn among the password checks
/// (`PASSWORD_CHECKS`), taken before its transaction began.
pub(crate) async fn check(
    tx: &mut PgConnection,
    seal: &SealKey,
    user_id: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Option<Used>, TwoFactorError> {
    let Some(credential) = store::lock_credential(tx, user_id).await? else {
        return Err(TwoFactorRefusal::NotOn.into());
    };
    if !credential.confirmed {
        return Err(TwoFactorRefusal::NotOn.into());
    }
    if let Some(recovery) = two_factor::normalise_recovery_code(code) {
        let unused = store::unused_recovery_codes(tx, user_id).await?;
        let matched = tokio::task::spawn_blocking(move || {
            unused
                .into_iter()
                .find(|(_, hash)| auth::verify_password(&recovery, hash))
                .map(|(n, _)| n)
        })
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("the recovery code check failed: {e}")))?;
        return Ok(match matched {
            Some(n) if store::use_recovery_code(tx, user_id, n).await? => {
                Some(Used::RecoveryCode {
                    left: store::recovery_codes_left(&mut *tx, user_id).await?,
                })
            }
            _ => None,
        });
    }
    let seed = open_seed(seal, user_id, &credential.sealed_seed)?;
    Ok(match seed.check(code, unix(now)) {
        Some(step) if store::accept_step(tx, user_id, step).await? => Some(Used::Code),
        _ => None,
    })
}

fn open_seed(
    seal: &SealKey,
    user_id: Uuid,
    sealed: &[u8],
) -> Result<two_factor::Seed, TwoFactorError> {
    seal.open(&context(user_id), sealed)
        .ok()
        .and_then(two_factor::Seed::from_bytes)
        .ok_or_else(|| {
            // Another key file than the one that sealed it, or a row altered in the database.
            tracing::error!(user = %user_id, "a second factor's seed does not open with this server's key file");
            TwoFactorError::Refused(TwoFactorRefusal::NoKey)
        })
}

/// User `user_id`'s second factor; `required`: whether the settings require one of them.
pub async fn status(
    pool: &PgPool,
    user_id: Uuid,
    required: bool,
) -> Result<TwoFactorStatus, sqlx::Error> {
    Ok(TwoFactorStatus {
        required,
        enabled: store::enabled(pool, user_id).await?,
        recovery_codes_left: u32::try_from(store::recovery_codes_left(pool, user_id).await?)
            .unwrap_or(0),
    })
}

/// Starts enrolment for `user`: a new seed, sealed and stored unconfirmed (replacing one that
/// waited), shown once as a QR code and as text. Nothing is recorded until it is confirmed.
pub async fn begin(
    pool: &PgPool,
    seal: &SealKey,
    user: &app::model::SessionUser,
    site_name: &str,
) -> Result<Enrolment, TwoFactorError> {
    let seed = two_factor::Seed::generate();
    let mut tx = pool.begin().await?;
    if !store::begin(
        &mut tx,
        user.id,
        &seal.seal(&context(user.id), seed.as_bytes()),
    )
    .await?
    {
        return Err(TwoFactorRefusal::AlreadyOn.into());
    }
    tx.commit().await?;
    let otpauth_url = seed.otpauth_url(site_name, &user.email);
    let qr_svg = two_factor::qr_svg(&otpauth_url).unwrap_or_default();
    Ok(Enrolment {
        secret: app::two_factor::grouped(&seed.base32()),
        otpauth_url,
        qr_svg,
    })
}

/// Ten new recovery codes and their Argon2 hashes (on the blocking pool).
async fn new_codes() -> Result<(Vec<String>, Vec<String>), TwoFactorError> {
    let codes = two_factor::new_recovery_codes();
    let plain = codes.clone();
    let hashes = tokio::task::spawn_blocking(move || {
        plain
            .iter()
            .map(|c| {
                auth::hash_password(
                    &two_factor::normalise_recovery_code(c).expect("a new code reads back"),
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| sqlx::Error::Protocol(format!("hashing recovery codes failed: {e}")))?;
    Ok((codes, hashes))
}

fn event(
    by: &Acting,
    action: &str,
    user: &users::UserViewRow,
    mut details: serde_json::Value,
) -> crate::domain::entry::event::NewEvent {
    let mut event = by.event(action).on("user", &user.id.to_string());
    details["email"] = json!(user.email);
    details["name"] = json!(user.name);
    event.record.details = details;
    event
}

/// Appends the entry of `action` on `user` and commits the change with it.
async fn recorded(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    by: &Acting,
    action: &str,
    user: &users::UserViewRow,
    details: serde_json::Value,
) -> Result<(), TwoFactorError> {
    let entry = event(by, action, user, details);
    entries::append_in(&mut tx, Source::Trailkeep, vec![entry]).await?;
    tx.commit().await?;
    Ok(())
}

async fn locked_user(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<users::UserViewRow, TwoFactorError> {
    users::lock(tx, user_id)
        .await?
        .ok_or(TwoFactorRefusal::NotFound.into())
}

/// Confirms the waiting enrolment of user `user_id` with its first `code`: sign-in asks for a
/// code from now on. Returns the recovery codes, shown once; records `2fa.enrolled`.
pub async fn confirm(
    pool: &PgPool,
    seal: &SealKey,
    user_id: Uuid,
    code: &str,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<RecoveryCodes, TwoFactorError> {
    let _turn = PASSWORD_CHECKS.acquire().await.expect("never closed");
    let mut tx = pool.begin().await?;
    let user = locked_user(&mut tx, user_id).await?;
    let credential = store::lock_credential(&mut tx, user_id).await?;
    let sealed = match credential {
        None => return Err(TwoFactorRefusal::NotStarted.into()),
        Some(c) if c.confirmed => return Err(TwoFactorRefusal::AlreadyOn.into()),
        Some(c) => c.sealed_seed,
    };
    let seed = open_seed(seal, user_id, &sealed)?;
    let step = seed
        .check(code, unix(now))
        .ok_or(TwoFactorRefusal::WrongCode)?;
    if !store::confirm(&mut tx, user_id, step).await? {
        return Err(TwoFactorRefusal::NotStarted.into());
    }
    // Hashed only once the code is right: a wrong code costs no Argon2.
    let (codes, hashes) = new_codes().await?;
    store::replace_recovery_codes(&mut tx, user_id, &hashes).await?;
    let details = json!({
        "changes": {"two_factor": {"before": false, "after": true}},
        "method": "totp",
        "recovery_codes": hashes.len(),
    });
    recorded(tx, by, "2fa.enrolled", &user, details).await?;
    Ok(RecoveryCodes(codes))
}

/// The proof a change of user `user_id`'s second factor needs: a current `code`, checked
/// under the sign-in's lockout (the account's advisory lock first, then the user's row, then
/// their second factor's, the order sign-in takes them). A wrong code is recorded as a failed
/// code (committed: it counts toward the lockout) and refused, so a stolen session guesses
/// codes no faster than the sign-in form. The caller holds a turn among the password checks.
async fn proven(
    pool: &PgPool,
    seal: &SealKey,
    user_id: Uuid,
    code: &str,
    by: &Acting,
    limits: SignInLimits,
    now: DateTime<Utc>,
) -> Result<
    (
        sqlx::Transaction<'static, sqlx::Postgres>,
        users::UserViewRow,
        Used,
    ),
    TwoFactorError,
> {
    let mut tx = pool.begin().await?;
    // An account's key is its id: the email is not read.
    let key = auth::sign_in_account_key(Some(user_id), "");
    let block = by.ip.map(auth::address_block);
    let failures =
        sign_ins::lock_and_count(&mut tx, &key, block.as_deref(), limits.window_minutes).await?;
    if failures.codes >= limits.email_failures
        || failures.account_here >= limits.email_failures
        || failures.block >= limits.ip_failures
    {
        return Err(TwoFactorRefusal::LockedOut.into());
    }
    let user = locked_user(&mut tx, user_id).await?;
    match check(&mut tx, seal, user_id, code, now).await? {
        Some(used) => Ok((tx, user, used)),
        None => {
            let outcome = sign_ins::Outcome::BadCode;
            sign_ins::record_failure(&mut tx, &key, block.as_deref(), outcome, true).await?;
            let mut e = by
                .event("user.login_failed")
                .on("user", &user.id.to_string());
            e.record.status = app::model::Status::Failure;
            e.record.details =
                json!({"reason": outcome.as_str(), "while": "changing two-factor sign-in"});
            entries::append_in(&mut tx, Source::Trailkeep, vec![e]).await?;
            tx.commit().await?;
            Err(TwoFactorRefusal::WrongCode.into())
        }
    }
}

/// Turns user `user_id`'s second factor off, proven by a current `code` (or a recovery code);
/// records `2fa.disabled`.
pub async fn disable(
    pool: &PgPool,
    seal: &SealKey,
    user_id: Uuid,
    code: &str,
    by: &Acting,
    limits: SignInLimits,
    now: DateTime<Utc>,
) -> Result<(), TwoFactorError> {
    let _turn = PASSWORD_CHECKS.acquire().await.expect("never closed");
    let (mut tx, user, used) = proven(pool, seal, user_id, code, by, limits, now).await?;
    store::remove(&mut tx, user_id).await?;
    let details = json!({
        "changes": {"two_factor": {"before": true, "after": false}},
        "proven_with": used.as_str(),
    });
    recorded(tx, by, "2fa.disabled", &user, details).await?;
    Ok(())
}

/// A new set of recovery codes for user `user_id`, proven by a current `code`: the old set
/// stops working. Records `2fa.recovery_codes_regenerated`.
pub async fn regenerate(
    pool: &PgPool,
    seal: &SealKey,
    user_id: Uuid,
    code: &str,
    by: &Acting,
    limits: SignInLimits,
    now: DateTime<Utc>,
) -> Result<RecoveryCodes, TwoFactorError> {
    let _turn = PASSWORD_CHECKS.acquire().await.expect("never closed");
    let (mut tx, user, used) = proven(pool, seal, user_id, code, by, limits, now).await?;
    let before = store::recovery_codes_left(&mut *tx, user_id).await?;
    let (codes, hashes) = new_codes().await?;
    store::replace_recovery_codes(&mut tx, user_id, &hashes).await?;
    let details = json!({
        "changes": {"recovery_codes_left": {"before": before, "after": hashes.len()}},
        "proven_with": used.as_str(),
    });
    recorded(tx, by, "2fa.recovery_codes_regenerated", &user, details).await?;
    Ok(RecoveryCodes(codes))
}

/// An admin's reset of user `user_id`'s second factor (a lost phone): it is off, their
/// sessions and sign-ins under way end, and they enrol again after signing in with their
/// password. Records `2fa.reset`.
pub async fn reset(
    pool: &PgPool,
    user_id: Uuid,
    by: &Acting,
) -> Result<app::users::UserView, TwoFactorError> {
    let mut tx = pool.begin().await?;
    let user = locked_user(&mut tx, user_id).await?;
    if !store::remove(&mut tx, user_id).await? {
        return Err(TwoFactorRefusal::NotOn.into());
    }
    store::drop_challenges(&mut tx, user_id).await?;
    sessions::delete_for_user(&mut tx, user_id).await?;
    let details = json!({"changes": {"two_factor": {"before": true, "after": false}}});
    entries::append_in(
        &mut tx,
        Source::Trailkeep,
        vec![event(by, "2fa.reset", &user, details)],
    )
    .await?;
    let after = users::lock(&mut tx, user_id)
        .await?
        .ok_or(TwoFactorRefusal::NotFound)?;
    tx.commit().await?;
    Ok(after.into())
}
