//! `totp_credentials`, `recovery_codes` and `sign_in_challenges` (migration 0026): a user's
//! sealed seed and last accepted step, their recovery codes' hashes, and the second steps of
//! sign-ins under way. Every "once" here is one conditional statement whose row count says
//! whether this caller was the one.

use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

#[derive(Debug, FromRow)]
pub struct CredentialRow {
    pub sealed_seed: Vec<u8>,
    pub confirmed: bool,
}

/// User `id`'s seed (confirmed or waiting for its first code), locked until the transaction
/// ends.
pub async fn lock_credential(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sealed_seed, confirmed_at IS NOT NULL AS confirmed FROM totp_credentials \
         WHERE user_id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// Whether user `id` has a confirmed second factor.
pub async fn enabled(conn: impl sqlx::PgExecutor<'_>, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM totp_credentials \
                        WHERE user_id = $1 AND confirmed_at IS NOT NULL)",
    )
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// Stores a new seed waiting for its first code, replacing one that waited; `false` when a
/// confirmed one exists (it is never replaced).
pub async fn begin(
    conn: &mut PgConnection,
    user_id: Uuid,
    sealed_seed: &[u8],
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO totp_credentials (user_id, sealed_seed) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET sealed_seed = EXCLUDED.sealed_seed \
         WHERE totp_credentials.confirmed_at IS NULL",
    )
    .bind(user_id)
    .bind(sealed_seed)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Confirms the waiting seed with the step of its first code; `false` if none waits.
pub async fn confirm(
    conn: &mut PgConnection,
    user_id: Uuid,
    step: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE totp_credentials SET confirmed_at = now(), last_step = $2 \
         WHERE user_id = $1 AND confirmed_at IS NULL",
    )
    .bind(user_id)
    .bind(step)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Accepts a code of time step `step`: only if it is later than the last one accepted (one
/// statement, so of two requests with one code, one wins).
pub async fn accept_step(
    conn: &mut PgConnection,
    user_id: Uuid,
    step: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE totp_credentials SET last_step = $2 \
         WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
    )
    .bind(user_id)
    .bind(step)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Removes user `id`'s second factor and recovery codes; `true` if a confirmed one was on.
pub async fn remove(conn: &mut PgConnection, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let confirmed: Option<bool> = sqlx::query_scalar(
        "DELETE FROM totp_credentials WHERE user_id = $1 RETURNING confirmed_at IS NOT NULL",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(confirmed == Some(true))
}

/// Replaces user `id`'s recovery codes with these hashes (the old set stops working).
pub async fn replace_recovery_codes(
    conn: &mut PgConnection,
    user_id: Uuid,
    hashes: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let numbers: Vec<i16> = (1..=hashes.len() as i16).collect();
    sqlx::query(
        "INSERT INTO recovery_codes (user_id, n, code_hash) \
         SELECT $1, n, h FROM unnest($2::smallint[], $3::text[]) AS t (n, h)",
    )
    .bind(user_id)
    .bind(&numbers)
    .bind(hashes)
    .execute(conn)
    .await?;
    Ok(())
}

/// User `id`'s unused recovery codes: their numbers and hashes.
pub async fn unused_recovery_codes(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<(i16, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n, code_hash FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL ORDER BY n",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

pub async fn recovery_codes_left(
    conn: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(conn)
        .await
}

/// Uses recovery code `n` of user `id`: `true` for the one caller that did.
pub async fn use_recovery_code(
    conn: &mut PgConnection,
    user_id: Uuid,
    n: i16,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND n = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(n)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Opens the second step of a sign-in for user `id`, valid `minutes`; drops expired ones.
pub async fn create_challenge(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user_id: Uuid,
    minutes: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_challenges WHERE expires_at < now()")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO sign_in_challenges (token_hash, user_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(mins => $3))",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(minutes)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user a live challenge is for (an active account). Not locked (the server's role may
/// not update challenges): attempts on one account are serialised by the sign-in's advisory
/// lock, and only the attempt whose [`take_challenge`] deletes it opens a session.
pub async fn find_challenge(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<super::users::UserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.email, u.name, u.role, u.password_hash \
         FROM sign_in_challenges c JOIN users u ON u.id = c.user_id \
         WHERE c.token_hash = $1 AND c.expires_at > now() AND u.deactivated_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await
}

/// Ends a challenge: `true` for the one caller that did (the one that may open a session).
pub async fn take_challenge(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM sign_in_challenges WHERE token_hash = $1")
            .bind(token_hash)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Ends every challenge of user `id` (their second factor was reset or they were deactivated).
pub async fn drop_challenges(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_challenges WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await
        .map(|_| ())
}
