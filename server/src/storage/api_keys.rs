//! `api_keys`: machine credentials. Only the SHA-256 of a key is stored.

use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::auth::Scope;

#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
}

impl ApiKeyRow {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.as_str())
    }
}

pub async fn insert(
    conn: &mut PgConnection,
    name: &str,
    prefix: &str,
    key_hash: &[u8],
    scopes: &[Scope],
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    sqlx::query(
        "INSERT INTO api_keys (id, name, prefix, key_hash, scopes) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(name)
    .bind(prefix)
    .bind(key_hash)
    .bind(scopes)
    .execute(conn)
    .await?;
    Ok(id)
}

/// The unrevoked key with this hash.
pub async fn find_active(pool: &PgPool, key_hash: &[u8]) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, prefix, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(pool)
    .await
}

/// The names of the keys among `ids` (revoked ones too: their entries keep their source).
pub async fn names(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM api_keys WHERE id = ANY($1) ORDER BY id")
        .bind(ids)
        .fetch_all(pool)
        .await
}

/// Revokes a key by id or by its printed prefix; returns it if it was active.
pub async fn revoke(
    conn: &mut PgConnection,
    id_or_prefix: &str,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    let id = Uuid::parse_str(id_or_prefix).ok();
    sqlx::query_as(
        "UPDATE api_keys SET revoked_at = now() \
         WHERE revoked_at IS NULL AND (id = $1 OR prefix = $2) \
         RETURNING id, name, prefix, scopes",
    )
    .bind(id)
    .bind(id_or_prefix)
    .fetch_optional(conn)
    .await
}
