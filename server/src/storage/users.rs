//! `users`: console accounts.

use app::model::{Role, SessionUser};
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
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(email)
    .bind(name)
    .bind(role.as_str())
    .bind(password_hash)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Sets the role; returns the previous one, or None if there is no such user.
pub async fn set_role(
    conn: &mut PgConnection,
    email: &str,
    role: Role,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE users u SET role = $2 FROM (SELECT id, role FROM users WHERE lower(email) = lower($1) FOR UPDATE) old \
         WHERE u.id = old.id RETURNING u.id, old.role",
    )
    .bind(email)
    .bind(role.as_str())
    .fetch_optional(conn)
    .await
}

pub async fn exists(pool: &PgPool, email: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))")
        .bind(email)
        .fetch_one(pool)
        .await
}
