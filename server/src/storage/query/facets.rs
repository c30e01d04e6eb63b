//! What the pickers offer: actors and actions with their entry counts, from the statistics
//! tables the log's trigger keeps (migrations/0002_query.sql).

use app::model::{ActionCategory, ActorFacet};
use sqlx::PgPool;

use crate::storage::pools::{acquire, READS};

use super::conditions::like_escape;

#[derive(sqlx::FromRow)]
struct ActorFacetRow {
    actor_type: String,
    id: String,
    name: Option<String>,
    email: Option<String>,
    count: i64,
}

impl ActorFacetRow {
    fn into_facet(self) -> ActorFacet {
        ActorFacet {
            actor_type: self.actor_type,
            id: self.id,
            name: self.name,
            email: self.email,
            count: self.count,
        }
    }
}

/// One row per actor as the `user=` filter tells them apart: by email (case-insensitively)
/// when there is one, else by id. Every row of a chosen actor counts (not only the rows that
/// matched the search), so the count is what choosing it selects; the most used type, id and
/// name are shown. `{keys}` is a query for the chosen `actor_key`s.
fn actor_groups(keys: &str) -> String {
    format!(
        "WITH chosen AS ({keys}) \
         SELECT (array_agg(s.actor_type ORDER BY s.entry_count DESC, s.actor_type))[1] AS actor_type, \
                (array_agg(s.actor_id ORDER BY s.entry_count DESC, s.actor_id))[1] AS id, \
                (array_agg(s.actor_name ORDER BY s.actor_name IS NULL, s.entry_count DESC, s.actor_name))[1] AS name, \
                (array_agg(s.actor_email ORDER BY s.entry_count DESC, s.actor_email))[1] AS email, \
                sum(s.entry_count)::bigint AS count, \
                chosen.actor_key, chosen.prefix \
         FROM actor_stats s JOIN chosen ON coalesce(lower(s.actor_email), s.actor_id) = chosen.actor_key \
         GROUP BY chosen.actor_key, chosen.prefix"
    )
}

/// Actors whose id, name or email contains `q` (prefix matches first), most active first.
pub async fn actor_facets(
    pool: &PgPool,
    q: &str,
    limit: i64,
) -> Result<Vec<ActorFacet>, sqlx::Error> {
    let escaped = like_escape(&q.to_lowercase());
    let keys = "SELECT coalesce(lower(actor_email), actor_id) AS actor_key, \
                coalesce(bool_or(lower(actor_id) LIKE $1 || '%' OR lower(actor_name) LIKE $1 || '%' \
                   OR lower(actor_email) LIKE $1 || '%'), false) AS prefix \
         FROM actor_stats \
         WHERE $1 = '' OR lower(actor_id) LIKE '%' || $1 || '%' OR lower(actor_name) LIKE '%' || $1 || '%' \
            OR lower(actor_email) LIKE '%' || $1 || '%' \
         GROUP BY 1";
    let rows: Vec<ActorFacetRow> = sqlx::query_as(&format!(
        "{} ORDER BY chosen.prefix DESC, count DESC, chosen.actor_key LIMIT $2",
        actor_groups(keys)
    ))
    .bind(escaped)
    .bind(limit)
    .fetch_all(&mut *acquire(pool, &READS).await?)
    .await?;
    Ok(rows.into_iter().map(ActorFacetRow::into_facet).collect())
}

/// The actors that `user=` values choose (by id, email or name, as the filter matches them),
/// for chips that read "Name <email>".
pub async fn actors_named(
    pool: &PgPool,
    values: &[String],
) -> Result<Vec<ActorFacet>, sqlx::Error> {
    let lowered: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
    let keys =
        "SELECT DISTINCT coalesce(lower(actor_email), actor_id) AS actor_key, false AS prefix \
         FROM actor_stats \
         WHERE lower(actor_email) = ANY($1) OR actor_id = ANY($2) OR actor_name = ANY($2)";
    let rows: Vec<ActorFacetRow> =
        sqlx::query_as(&format!("{} ORDER BY chosen.actor_key", actor_groups(keys)))
            .bind(&lowered)
            .bind(values)
            .fetch_all(&mut *acquire(pool, &READS).await?)
            .await?;
    Ok(rows.into_iter().map(ActorFacetRow::into_facet).collect())
}

/// Every action with its count, grouped into categories.
pub async fn action_facets(pool: &PgPool) -> Result<Vec<ActionCategory>, sqlx::Error> {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT action, entry_count FROM action_stats ORDER BY action")
            .fetch_all(&mut *acquire(pool, &READS).await?)
            .await?;
    Ok(ActionCategory::group(counts))
}
