//! `users`: console accounts.

use app::model::{Role, SessionUser};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
}

impl UserRow {
    pub fn session_user(&self) -> SessionUser {
        SessionUser {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: Role::parse(&self.role).unwrap_or(Role::Member),
        }
    }
}

/// An active (not deactivated) user by email, case-insensitively.
pub async fn find_by_email(
    conn: impl sqlx::PgExecutor<'_>,
    email: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, email, name, role, password_hash FROM users \
         WHERE lower(email) = lower($1) AND deactivated_at IS NULL",
    )
    .bind(email)
    .fetch_optional(conn)
    .await
}

pub async fn insert(
    conn: &mut PgConnection,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    insert_as(conn, id, email, name, role, password_hash).await?;
    Ok(id)
}

/// Inserts user `id` (an invitation names it before it exists: the same transaction).
pub async fn insert_as(
    conn: &mut PgConnection,
    id: Uuid,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(email)
    .bind(name)
    .bind(role.as_str())
    .bind(password_hash)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn exists(pool: &PgPool, email: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))")
        .bind(email)
        .fetch_one(pool)
        .await
}

/// Every column a user's view needs (never the password hash), and whether their second
/// factor is on.
const VIEW_COLUMNS: &str = "id, email, name, role, created_at, last_sign_in_at, deactivated_at, \
     EXISTS (SELECT 1 FROM totp_credentials t \
             WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL) AS two_factor";

#[derive(Debug, Clone, FromRow)]
pub struct UserViewRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub two_factor: bool,
}

impl From<UserViewRow> for app::users::UserView {
    fn from(r: UserViewRow) -> Self {
        app::users::UserView {
            id: r.id,
            email: r.email,
            name: r.name,
            // The table's CHECK allows only the three roles.
            role: Role::parse(&r.role).unwrap_or(Role::Member),
            created_at: r.created_at,
            last_sign_in_at: r.last_sign_in_at,
            deactivated_at: r.deactivated_at,
            two_factor: r.two_factor,
        }
    }
}

/// Every user, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<UserViewRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VIEW_COLUMNS} FROM users ORDER BY lower(name), lower(email)"
    ))
    .fetch_all(pool)
    .await
}

/// The active admins' ids, their rows locked until the transaction ends: two changes that
/// could each remove an admin wait for each other, so they cannot both pass the last-admin
/// check (the second sees the first's result once it commits).
pub async fn lock_active_admins(conn: &mut PgConnection) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'admin' AND deactivated_at IS NULL \
         ORDER BY id FOR UPDATE",
    )
    .fetch_all(conn)
    .await
}

/// User `id`, locked until the transaction ends.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<UserViewRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VIEW_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The id of the user with this email, case-insensitively.
pub async fn id_by_email(pool: &PgPool, email: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(pool)
        .await
}

/// Sets user `id`'s role.
pub async fn set_role_of(
    conn: &mut PgConnection,
    id: Uuid,
    role: Role,
) -> Result<UserViewRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE users SET role = $2 WHERE id = $1 RETURNING {VIEW_COLUMNS}"
    ))
    .bind(id)
    .bind(role.as_str())
    .fetch_one(conn)
    .await
}

/// Deactivates (at `at`) or reactivates (`None`) user `id`.
pub async fn set_deactivated(
    conn: &mut PgConnection,
    id: Uuid,
    at: Option<DateTime<Utc>>,
) -> Result<UserViewRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE users SET deactivated_at = $2 WHERE id = $1 RETURNING {VIEW_COLUMNS}"
    ))
    .bind(id)
    .bind(at)
    .fetch_one(conn)
    .await
}

/// Notes a sign-in of user `id` (in the session's transaction).
pub async fn note_sign_in(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_sign_in_at = now() WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Active user `id` with their password hash, locked until the transaction ends.
pub async fn lock_active(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, email, name, role, password_hash FROM users \
         WHERE id = $1 AND deactivated_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn set_password(
    conn: &mut PgConnection,
    id: Uuid,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(conn)
        .await
        .map(|_| ())
}
