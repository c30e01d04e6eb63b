//! `invitations`: one-time links that let someone create their account. Only the SHA-256 of a
//! token is stored; an invitation is used by one conditional UPDATE (migrations/0024).

use app::model::Role;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

const COLUMNS: &str = "id, email, name, role, invited_by, created_at, expires_at";

#[derive(Debug, Clone, FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<InvitationRow> for app::invitations::Invitation {
    fn from(r: InvitationRow) -> Self {
        app::invitations::Invitation {
            id: r.id,
            email: r.email,
            name: r.name,
            // The table's CHECK allows only the three roles.
            role: Role::parse(&r.role).unwrap_or(Role::Member),
            invited_by: r.invited_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

/// A new invitation (its token's hash, never the token).
pub struct NewInvitationRow<'a> {
    pub token_hash: &'a [u8],
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub invited_by: &'a str,
    /// The inviting user (none: the operator's CLI).
    pub invited_by_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut PgConnection,
    new: NewInvitationRow<'_>,
) -> Result<InvitationRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO invitations \
             (id, token_hash, email, name, role, invited_by, expires_at, invited_by_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.token_hash)
    .bind(new.email)
    .bind(new.name)
    .bind(new.role.as_str())
    .bind(new.invited_by)
    .bind(new.expires_at)
    .bind(new.invited_by_id)
    .fetch_one(conn)
    .await
}

/// Revokes the pending invitations of `email` (a newer one replaces them); how many.
pub async fn revoke_pending(
    conn: &mut PgConnection,
    email: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE invitations SET revoked_at = $2 \
         WHERE lower(email) = lower($1) AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(email)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// Usable at the time bound as `now` (`$1`, `$2`…): not accepted, not revoked, not expired,
/// and its inviter (if a user) still an active admin.
fn usable(now: &str) -> String {
    format!(
        "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > {now} \
         AND (invited_by_id IS NULL OR EXISTS (SELECT 1 FROM users u WHERE u.id = invited_by_id \
              AND u.role = 'admin' AND u.deactivated_at IS NULL))"
    )
}

/// Revokes the pending invitations user `inviter` made (they are no longer an active admin).
pub async fn revoke_by_inviter(conn: &mut PgConnection, inviter: Uuid) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE invitations SET revoked_at = now() \
         WHERE invited_by_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(inviter)
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// The invitation a token with this hash names, if it can still be used at `now`.
pub async fn find_usable(
    pool: &PgPool,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE token_hash = $1 AND {}",
        usable("$2")
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Uses the invitation for user `user_id` at `now`, if it still can be: one conditional
/// UPDATE, so of two concurrent uses exactly one gets the row.
pub async fn accept(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE invitations SET accepted_at = $2, user_id = $3 WHERE token_hash = $1 \
           AND {} RETURNING {COLUMNS}",
        usable("$2")
    ))
    .bind(token_hash)
    .bind(now)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// The invitations still usable at `now`, newest first.
pub async fn pending(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE {} ORDER BY created_at DESC, id",
        usable("$1")
    ))
    .bind(now)
    .fetch_all(pool)
    .await
}
