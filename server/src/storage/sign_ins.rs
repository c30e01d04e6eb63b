//! `sign_in_attempts`: what the sign-in lockout and the per-address limit count. Only `/login`
//! writes here, at the database's clock: nothing an API key can send reaches these rows.

use sqlx::PgConnection;

/// How an attempt ended (the table's CHECK lists the same words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    BadPassword,
    UnknownUser,
    LockedOut,
    /// The password was right, the second factor's code was not.
    BadCode,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::BadPassword => "bad_password",
            Outcome::UnknownUser => "unknown_user",
            Outcome::LockedOut => "locked_out",
            Outcome::BadCode => "bad_code",
        }
    }
}

/// Failures counted for one attempt, inside its transaction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Failures {
    /// Wrong passwords, wrong codes and unknown users for this account from this address block.
    pub account_here: i64,
    /// Wrong passwords and unknown users for this account from anywhere.
    pub account: i64,
    /// Every refused attempt from this address block, whatever the account.
    pub block: i64,
    /// Wrong second-factor codes for this account from anywhere: only someone who knows the
    /// password can make one, so they count account-wide (no outsider can lock the account
    /// with them).
    pub codes: i64,
    /// Seconds since the last refused attempt on this account (`None`: none in the window).
    pub since_last: Option<f64>,
}

/// Serialises attempts on one account (and one address block) until the caller's transaction
/// ends, then counts the failures of the last `minutes`: parallel guesses see each other's.
/// `account_key` names the account found (or the email typed, when none is), `block` the
/// client's address block (`/64` for IPv6).
pub async fn lock_and_count(
    tx: &mut PgConnection,
    account_key: &str,
    block: Option<&str>,
    minutes: i32,
) -> Result<Failures, sqlx::Error> {
    // Always account first, then block: two attempts never wait for each other in a circle.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('trailkeep.sign_in.email:' || $1, 0))",
    )
    .bind(account_key)
    .execute(&mut *tx)
    .await?;
    if let Some(block) = block {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('trailkeep.sign_in.ip:' || $1, 0))",
        )
        .bind(block)
        .execute(&mut *tx)
        .await?;
    }
    let (account_here, account, block, since_last, codes): (i64, i64, i64, Option<f64>, i64) =
        sqlx::query_as(
        "WITH recent AS (SELECT * FROM sign_in_attempts \
                             WHERE at > now() - make_interval(mins => $3)) \
             SELECT \
               (SELECT count(*) FROM recent WHERE email_key = $1 \
                  AND outcome IN ('bad_password', 'unknown_user', 'bad_code') \
                  AND ip IS NOT DISTINCT FROM $2::inet), \
               (SELECT count(*) FROM recent WHERE email_key = $1 \
                  AND outcome IN ('bad_password', 'unknown_user', 'bad_code')), \
               (SELECT count(*) FROM recent WHERE ip = $2::inet), \
               (SELECT extract(epoch FROM clock_timestamp() - max(at))::float8 FROM recent \
                  WHERE email_key = $1 AND outcome IN ('bad_password', 'unknown_user', 'bad_code')), \
               (SELECT count(*) FROM recent WHERE email_key = $1 AND outcome = 'bad_code')",
    )
    .bind(account_key)
    .bind(block)
    .bind(minutes)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Failures {
        account_here,
        account,
        block,
        since_last,
        codes,
    })
}

/// Failures on an account in the window and seconds since the last, read without any lock:
/// what an attempt waits for before it takes a turn.
pub async fn peek(
    db: impl sqlx::PgExecutor<'_>,
    account_key: &str,
    minutes: i32,
) -> Result<(i64, Option<f64>), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), extract(epoch FROM clock_timestamp() - max(at))::float8 \
         FROM sign_in_attempts WHERE email_key = $1 \
         AND outcome IN ('bad_password', 'unknown_user', 'bad_code') \
         AND at > now() - make_interval(mins => $2)",
    )
    .bind(account_key)
    .bind(minutes)
    .fetch_one(db)
    .await
}

/// Forgets the failures counted against one account (`trailkeep user unlock`): they stop
/// counting against it, yet stay for the per-address limit and the log's summaries.
pub async fn forget(conn: &mut PgConnection, account_key: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE sign_in_attempts \
         SET email_key = encode(sha256(convert_to('forgotten:' || email_key, 'UTF8')), 'hex') \
         WHERE email_key = $1",
    )
    .bind(account_key)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Refused attempts from `block` already recorded in this minute (the database's clock); the
/// caller holds the block's lock ([`lock_and_count`]), so exactly one attempt sees 0.
pub async fn this_minute(tx: &mut PgConnection, block: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM sign_in_attempts \
         WHERE ip = $1::inet AND at >= date_trunc('minute', clock_timestamp())",
    )
    .bind(block)
    .fetch_one(tx)
    .await
}

/// The refused attempts of one address block in one past minute that no entry records yet.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Unlogged {
    /// The address block (`198.51.100.7`, `2001:db8:1:2::/64`).
    pub block: String,
    pub minute: chrono::DateTime<chrono::Utc>,
    pub attempts: i64,
    pub accounts: i64,
    pub bad_password: i64,
    pub unknown_user: i64,
    pub locked_out: i64,
    pub bad_code: i64,
}

/// Takes the summariser's lock for this transaction, if no other process holds it.
pub async fn try_lock_summariser(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('trailkeep.sign_in.summary', 0))",
    )
    .fetch_one(conn)
    .await
}

/// Marks every unlogged attempt of a minute already over as logged and returns them, grouped
/// by block and minute (one statement: only what it marks is counted).
pub async fn take_unlogged(conn: &mut PgConnection) -> Result<Vec<Unlogged>, sqlx::Error> {
    sqlx::query_as(
        "WITH marked AS ( \
           UPDATE sign_in_attempts SET logged = true \
           WHERE NOT logged AND ip IS NOT NULL AND at < date_trunc('minute', clock_timestamp()) \
           RETURNING ip, at, email_key, outcome) \
         SELECT CASE WHEN masklen(ip) IN (32, 128) THEN host(ip) ELSE text(ip) END AS block, \
           date_trunc('minute', at) AS minute, count(*) AS attempts, \
           count(DISTINCT email_key) AS accounts, \
           count(*) FILTER (WHERE outcome = 'bad_password') AS bad_password, \
           count(*) FILTER (WHERE outcome = 'unknown_user') AS unknown_user, \
           count(*) FILTER (WHERE outcome = 'locked_out') AS locked_out, \
           count(*) FILTER (WHERE outcome = 'bad_code') AS bad_code \
         FROM marked GROUP BY 1, 2 ORDER BY 2, 1",
    )
    .fetch_all(conn)
    .await
}

/// Records a refused attempt (successes are not counted), and prunes what no window needs.
pub async fn record_failure(
    tx: &mut PgConnection,
    account_key: &str,
    block: Option<&str>,
    outcome: Outcome,
    logged: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sign_in_attempts (email_key, ip, outcome, at, logged) \
         VALUES ($1, $2::inet, $3, clock_timestamp(), $4)",
    )
    .bind(account_key)
    .bind(block)
    .bind(outcome.as_str())
    .bind(logged)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sign_in_attempts WHERE at < now() - interval '1 day'")
        .execute(&mut *tx)
        .await?;
    Ok(())
}
