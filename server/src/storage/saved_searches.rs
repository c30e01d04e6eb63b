//! `saved_searches`: readers' named filters. A reader sees their own and those shared with every
//! reader; only the owner deletes one. At most [`MAX_PER_OWNER`] per owner, counted under a
//! per-owner lock in the same transaction as the insert, so no race goes past it.

use sqlx::PgPool;
use uuid::Uuid;

/// Saved searches one reader may keep.
pub const MAX_PER_OWNER: i64 = 100;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedSearchRow {
    pub id: Uuid,
    pub name: String,
    pub filter: String,
    pub shared: bool,
    pub owner_name: String,
    pub mine: bool,
}

/// Why an insert did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SaveRefused {
    #[error("the owner already has a saved search with this name")]
    Duplicate,
    #[error("the owner already has {MAX_PER_OWNER} saved searches")]
    TooMany,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

const COLUMNS: &str =
    "s.id, s.name, s.filter, s.shared, u.name AS owner_name, s.owner = $1 AS mine";

/// What `viewer` may open: their own first, then the shared ones, each by name.
pub async fn visible_to(pool: &PgPool, viewer: Uuid) -> Result<Vec<SavedSearchRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM saved_searches s JOIN users u ON u.id = s.owner \
         WHERE s.owner = $1 OR s.shared ORDER BY mine DESC, lower(s.name), s.id"
    ))
    .bind(viewer)
    .fetch_all(pool)
    .await
}

/// One saved search, if `viewer` may open it.
pub async fn find(
    pool: &PgPool,
    viewer: Uuid,
    id: Uuid,
) -> Result<Option<SavedSearchRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM saved_searches s JOIN users u ON u.id = s.owner \
         WHERE s.id = $2 AND (s.owner = $1 OR s.shared)"
    ))
    .bind(viewer)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Saves a search for `owner` (name already checked, filter canonical).
pub async fn insert(
    pool: &PgPool,
    owner: Uuid,
    name: &str,
    filter: &str,
    shared: bool,
) -> Result<Uuid, SaveRefused> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('saved_searches:' || $1::text, 0))")
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM saved_searches WHERE owner = $1")
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
    if n >= MAX_PER_OWNER {
        return Err(SaveRefused::TooMany);
    }
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO saved_searches (id, owner, name, filter, shared) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT ON CONSTRAINT saved_searches_name DO NOTHING",
    )
    .bind(id)
    .bind(owner)
    .bind(name)
    .bind(filter)
    .bind(shared)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(SaveRefused::Duplicate);
    }
    tx.commit().await?;
    Ok(id)
}

/// Deletes `owner`'s saved search `id`; `false` if they have none such (another's, or gone).
pub async fn delete(pool: &PgPool, owner: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM saved_searches WHERE id = $1 AND owner = $2")
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
