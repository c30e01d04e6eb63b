//! `sessions`: signed-in browsers. Only the SHA-256 of a token is stored.

use app::model::SessionUser;
use chrono::Duration;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::users::UserRow;

pub const SESSION_HOURS: i64 = 12;

pub async fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    token_hash: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + $3::interval)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(format!("{} hours", Duration::hours(SESSION_HOURS).num_hours()))
    .execute(conn)
    .await?;
    Ok(())
}

/// The user behind a live session of an active account.
pub async fn find_user(
    pool: &PgPool,
    token_hash: &[u8],
) -> Result<Option<SessionUser>, sqlx::Error> {
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.name, u.role, u.password_hash FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > now() AND u.deactivated_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| r.session_user()))
}

pub async fn delete(pool: &PgPool, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at < now()")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends every session of a user (their role changed: they sign in again under the new one).
pub async fn delete_for_user(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of a user but `keep` (theirs, asking); returns how many ended.
pub async fn delete_others(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: &[u8],
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
