//! `sign_in_attempts`: what the sign-in lockout and the per-address limit count. Only `/login`
//! writes here, at the database's clock: nothing an API key can send reaches these rows.

use std::net::IpAddr;

use sqlx::PgConnection;

/// How an attempt ended (the table's CHECK lists the same words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    BadPassword,
    UnknownUser,
    LockedOut,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::BadPassword => "bad_password",
            Outcome::UnknownUser => "unknown_user",
            Outcome::LockedOut => "locked_out",
        }
    }
}

/// Failures counted for one attempt, inside its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    /// Wrong passwords and unknown users for this email in the window.
    pub email: i64,
    /// Every refused attempt from this address in the window.
    pub ip: i64,
}

/// Serialises attempts on one email (and one address) until the caller's transaction ends,
/// then counts the failures of the last `minutes`: parallel guesses see each other's failures.
pub async fn lock_and_count(
    tx: &mut PgConnection,
    email_key: &str,
    ip: Option<IpAddr>,
    minutes: i32,
) -> Result<Failures, sqlx::Error> {
    // Always email first, then address: two attempts never wait for each other in a circle.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('trailkeep.sign_in.email:' || $1, 0))",
    )
    .bind(email_key)
    .execute(&mut *tx)
    .await?;
    if let Some(ip) = ip {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('trailkeep.sign_in.ip:' || $1, 0))",
        )
        .bind(ip.to_string())
        .execute(&mut *tx)
        .await?;
    }
    let (email, ip): (i64, i64) = sqlx::query_as(
        "SELECT \
           (SELECT count(*) FROM sign_in_attempts WHERE email_key = $1 \
              AND outcome IN ('bad_password', 'unknown_user') \
              AND at > now() - make_interval(mins => $3)), \
           (SELECT count(*) FROM sign_in_attempts WHERE ip = $2::inet \
              AND at > now() - make_interval(mins => $3))",
    )
    .bind(email_key)
    .bind(ip.map(|ip| ip.to_string()))
    .bind(minutes)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Failures { email, ip })
}

/// Records a refused attempt (successes are not counted), and prunes what no window needs.
pub async fn record_failure(
    tx: &mut PgConnection,
    email_key: &str,
    ip: Option<IpAddr>,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sign_in_attempts (email_key, ip, outcome) VALUES ($1, $2::inet, $3)")
        .bind(email_key)
        .bind(ip.map(|ip| ip.to_string()))
        .bind(outcome.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sign_in_attempts WHERE at < now() - interval '1 day'")
        .execute(&mut *tx)
        .await?;
    Ok(())
}
