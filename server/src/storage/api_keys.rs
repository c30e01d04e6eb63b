//! `api_keys`: machine credentials. Only the SHA-256 of a secret is stored; a rotated key
//! keeps its id and holds its previous secret's hash until a grace end (migrations/0022,
//! whose trigger keeps a revoked key revoked whoever writes).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::auth::Scope;

/// Every column but the hashes, for listing, authenticating and recording.
const COLUMNS: &str = "id, name, prefix, scopes, created_by, created_at, last_used_at, \
                       expires_at, revoked_at, rotated_at, previous_prefix, previous_until";

#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub previous_prefix: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
}

impl ApiKeyRow {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|s| Scope::parse(s).is_some_and(|held| held.grants(scope)))
    }
}

impl From<ApiKeyRow> for app::keys::ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        app::keys::ApiKey {
            id: r.id,
            name: r.name,
            // The table's CHECK allows only these.
            scopes: r.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            prefix: r.prefix,
            created_by: r.created_by,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            rotated_at: r.rotated_at,
            previous_prefix: r.previous_prefix,
            previous_until: r.previous_until,
        }
    }
}

/// A key to insert; its secret's hash, never the secret.
pub struct NewKeyRow<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a [u8],
    pub scopes: &'a [Scope],
    pub created_by: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut PgConnection, key: NewKeyRow<'_>) -> Result<ApiKeyRow, sqlx::Error> {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(&format!(
        "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(key.name)
    .bind(key.prefix)
    .bind(key.key_hash)
    .bind(scopes)
    .bind(key.created_by)
    .bind(key.expires_at)
    .fetch_one(conn)
    .await
}

/// The key a secret with this hash authenticates at `now`: its current secret, or its previous
/// one before the grace end; never a revoked or expired key.
pub async fn find_active(
    pool: &PgPool,
    key_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys \
         WHERE (key_hash = $1 OR (previous_hash = $1 AND previous_until > $2)) \
           AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)"
    ))
    .bind(key_hash)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Records that key `id` was used at `now`, unless it already was within the minute: the row
/// is written at most once a minute whatever the request rate.
pub async fn touch(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $2 \
         WHERE id = $1 AND revoked_at IS NULL \
           AND (last_used_at IS NULL OR last_used_at <= $2 - interval '1 minute')",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Every key, newest first.
pub async fn list(pool: &PgPool) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id"
    ))
    .fetch_all(pool)
    .await
}

/// Key `id`, locked until the transaction ends (a rotation or revocation reads it first).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The ids of the unrevoked keys whose current secret starts with `prefix` (the CLI's way to
/// name one).
pub async fn ids_with_prefix(pool: &PgPool, prefix: &str) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL ORDER BY id",
    )
    .bind(prefix)
    .fetch_all(pool)
    .await
}

/// The names of the keys among `ids` (revoked ones too: their entries keep their source).
pub async fn names(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM api_keys WHERE id = ANY($1) ORDER BY id")
        .bind(ids)
        .fetch_all(pool)
        .await
}

/// Whether key `id` imports history: it holds the `import` scope, and the log holds the entry
/// Trailkeep made when the key was created naming that scope. A key row written without its
/// hash-chained `key.created` (by anything but the key service) never counts, and neither does
/// one whose creation is in an archived month: their late entries keep the warning.
pub async fn imports_history(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = $1 AND 'import' = ANY(k.scopes) \
           AND EXISTS (SELECT 1 FROM audit_entries e WHERE e.source = 'trailkeep' \
             AND e.action = 'key.created' AND e.resource_type = 'api_key' \
             AND e.resource_id = $1::text AND e.details->'scopes' ? 'import'))",
    )
    .bind(id)
    .fetch_one(pool)
    .await
}

/// A new secret for live key `id` at `now`; the current one becomes the previous, accepted
/// until `grace_until`.
pub async fn rotate(
    conn: &mut PgConnection,
    id: Uuid,
    prefix: &str,
    key_hash: &[u8],
    now: DateTime<Utc>,
    grace_until: DateTime<Utc>,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE api_keys SET previous_hash = key_hash, previous_prefix = prefix, \
                previous_until = $5, rotated_at = $4, key_hash = $3, prefix = $2 \
         WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $4) \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(prefix)
    .bind(key_hash)
    .bind(now)
    .bind(grace_until)
    .fetch_optional(conn)
    .await
}

/// Revokes key `id` at `now`; returns it if it was not revoked already.
pub async fn revoke(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await
}
