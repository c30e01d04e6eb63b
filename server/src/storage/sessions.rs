//! `sessions`: signed-in browsers. Only the SHA-256 of a token is stored; the Account page
//! names a session by its `id`.

use app::account::SessionView;
use app::model::SessionUser;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::users::UserRow;

/// Where a session is opened from, and for how long.
pub struct NewSession<'a> {
    pub user_id: Uuid,
    pub token_hash: &'a [u8],
    pub hours: u32,
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<&'a str>,
}

pub async fn create(conn: &mut PgConnection, s: NewSession<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, expires_at, ip, user_agent) \
         VALUES ($1, $2, now() + make_interval(hours => $3), $4::inet, $5)",
    )
    .bind(s.token_hash)
    .bind(s.user_id)
    .bind(i32::try_from(s.hours).unwrap_or(i32::MAX))
    .bind(s.ip.map(|ip| ip.to_string()))
    .bind(s.user_agent)
    .execute(conn)
    .await?;
    Ok(())
}

/// How long a session may last and stay unused (the Settings' current values: a shorter
/// one applies to sessions already open).
#[derive(Clone, Copy, Debug)]
pub struct Lifetime {
    pub hours: u32,
    pub idle_minutes: u32,
}

/// A live session of an active account, as a request's guard needs it.
#[derive(Clone, Debug)]
pub struct Found {
    pub user: SessionUser,
    pub id: Uuid,
    /// Whether the password was proven in this session (sign-in or a confirmation) within the
    /// last [`app::error::SUDO_MINUTES`], by the database's clock.
    pub recently_proven: bool,
    /// Whether the user has a confirmed second factor.
    pub has_two_factor: bool,
}

#[derive(FromRow)]
struct FoundRow {
    #[sqlx(flatten)]
    user: UserRow,
    session_id: Uuid,
    recently_proven: bool,
    has_two_factor: bool,
    alive: bool,
    seen_long_ago: bool,
}

/// Whether a session is still live under a lifetime, in SQL over `sessions` aliased `s`: the
/// lifetime's hours are parameter `$hours`, its idle minutes `$idle`.
fn alive(hours: u8, idle: u8) -> String {
    format!(
        "(s.expires_at > now() AND s.created_at > now() - make_interval(hours => ${hours}) \
          AND s.last_seen_at > now() - make_interval(mins => ${idle}))"
    )
}

fn hours(lifetime: Lifetime) -> i32 {
    i32::try_from(lifetime.hours).unwrap_or(i32::MAX)
}

fn idle(lifetime: Lifetime) -> i32 {
    i32::try_from(lifetime.idle_minutes).unwrap_or(i32::MAX)
}

/// The session of `token_hash` if it is live under `lifetime` and its user active. One found
/// past its lifetime or idle time is deleted, so a longer setting later never revives it.
/// With `touch`, notes it as used now when it was last noted more than a minute ago (one write
/// per minute at most); a live socket's checks do not touch, so they never keep a session from
/// its idle timeout.
pub async fn find(
    pool: &PgPool,
    token_hash: &[u8],
    lifetime: Lifetime,
    touch: bool,
) -> Result<Option<Found>, sqlx::Error> {
    let row: Option<FoundRow> = sqlx::query_as(&format!(
        "SELECT u.id, u.email, u.name, u.role, u.password_hash, s.id AS session_id, \
                s.proven_at > now() - make_interval(mins => $4) AS recently_proven, \
                EXISTS (SELECT 1 FROM totp_credentials t \
                        WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) AS has_two_factor, \
                {} AS alive, \
                s.last_seen_at < now() - interval '1 minute' AS seen_long_ago \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND u.deactivated_at IS NULL",
        alive(2, 3)
    ))
    .bind(token_hash)
    .bind(hours(lifetime))
    .bind(idle(lifetime))
    .bind(i32::try_from(app::error::SUDO_MINUTES).unwrap_or(10))
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if !row.alive {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(pool)
            .await?;
        return Ok(None);
    }
    if touch && row.seen_long_ago {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = now() \
             WHERE token_hash = $1 AND last_seen_at < now() - interval '1 minute'",
        )
        .bind(token_hash)
        .execute(pool)
        .await?;
    }
    Ok(Some(Found {
        user: row.user.session_user(),
        id: row.session_id,
        recently_proven: row.recently_proven,
        has_two_factor: row.has_two_factor,
    }))
}

/// Deletes every session past `lifetime` (the settings change: neither the old nor the new
/// values may revive a session that ended).
pub async fn delete_ended(conn: &mut PgConnection, lifetime: Lifetime) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query(&format!("DELETE FROM sessions s WHERE NOT {}", alive(1, 2)))
            .bind(hours(lifetime))
            .bind(idle(lifetime))
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

#[derive(FromRow)]
struct SessionRow {
    id: Uuid,
    token_hash: Vec<u8>,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl SessionRow {
    fn view(self, current: &[u8]) -> SessionView {
        SessionView {
            id: self.id,
            created_at: self.created_at,
            last_seen_at: self.last_seen_at,
            ip: self.ip,
            user_agent: self.user_agent,
            current: self.token_hash == current,
        }
    }
}

/// `user_id`'s live sessions under `lifetime`, the most recently used first; `current` (the
/// asking session's hash) is marked.
pub async fn list(
    pool: &PgPool,
    user_id: Uuid,
    current: &[u8],
    lifetime: Lifetime,
) -> Result<Vec<SessionView>, sqlx::Error> {
    let rows: Vec<SessionRow> = sqlx::query_as(&format!(
        "SELECT id, token_hash, created_at, last_seen_at, host(ip) AS ip, user_agent \
         FROM sessions s WHERE user_id = $1 AND {} \
         ORDER BY last_seen_at DESC, created_at DESC",
        alive(2, 3)
    ))
    .bind(user_id)
    .bind(hours(lifetime))
    .bind(idle(lifetime))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| r.view(current)).collect())
}

/// Ends `user_id`'s session `id`: what it was, if it was theirs and live under `lifetime`.
pub async fn delete_one(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    lifetime: Lifetime,
) -> Result<Option<SessionView>, sqlx::Error> {
    let row: Option<SessionRow> = sqlx::query_as(&format!(
        "DELETE FROM sessions s WHERE user_id = $1 AND id = $4 AND {} \
         RETURNING id, token_hash, created_at, last_seen_at, host(ip) AS ip, user_agent",
        alive(2, 3)
    ))
    .bind(user_id)
    .bind(hours(lifetime))
    .bind(idle(lifetime))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.view(&[])))
}

/// Notes that the password was proven again in session `token_hash` now.
pub async fn proven(conn: &mut PgConnection, token_hash: &[u8]) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE sessions SET proven_at = now() WHERE token_hash = $1")
            .bind(token_hash)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
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
