//! What the pickers offer: actors and actions with their entry counts, from the statistics
//! tables the log's trigger keeps (migrations/0002_query.sql), or, under other active filters,
//! counted exactly from the entries those filters match (from the field's hourly rollup where
//! it keeps the filter: `top::push_field_counts`).

use app::filter::Filter;
use app::model::{ActionCategory, ActorFacet, ActorFacetPage, TopField};
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::storage::pools::{acquire, READS};

use super::conditions::like_escape;
use super::error::QueryError;
use super::snapshot::{resolve_bounds, snapshot};
use super::top::push_field_counts;

#[derive(sqlx::FromRow)]
struct ActorFacetRow {
    actor_type: String,
    id: String,
    name: Option<String>,
    email: Option<String>,
    count: i64,
    unknown_sign_in: bool,
}

impl ActorFacetRow {
    fn into_facet(self) -> ActorFacet {
        ActorFacet {
            actor_type: self.actor_type,
            id: self.id,
            name: self.name,
            email: self.email,
            count: self.count,
            unknown_sign_in: self.unknown_sign_in,
        }
    }
}

/// Appends one row per actor as the `user=` filter tells them apart: by email
/// (case-insensitively) when there is one, else by id, for the `actor_key`s the query `keys`
/// (already in `qb`, as `chosen`) picks. The most used type, id and name are shown; `count` is
/// every entry of the actor (what choosing it selects when nothing else is filtered), and an
/// actor is an unknown sign-in name when every entry of it is one (migrations/0015).
fn push_actor_groups(qb: &mut QueryBuilder<'_, Postgres>) {
    qb.push(
        " SELECT (array_agg(s.actor_type ORDER BY s.entry_count DESC, s.actor_type))[1] AS actor_type, \
                (array_agg(s.actor_id ORDER BY s.entry_count DESC, s.actor_id))[1] AS id, \
                (array_agg(s.actor_name ORDER BY s.actor_name IS NULL, s.entry_count DESC, s.actor_name))[1] AS name, \
                (array_agg(s.actor_email ORDER BY s.entry_count DESC, s.actor_email))[1] AS email, \
                sum(s.entry_count)::bigint AS count, \
                sum(s.unknown_sign_ins) = sum(s.entry_count) AS unknown_sign_in, \
                chosen.actor_key, chosen.prefix \
         FROM actor_stats s JOIN chosen ON coalesce(lower(s.actor_email), s.actor_id) = chosen.actor_key \
         GROUP BY chosen.actor_key, chosen.prefix",
    );
}

/// `WITH chosen AS (…)`: the actors whose id, name or email contains `q` (all for an empty
/// `q`), and whether one of them starts with it.
fn push_chosen_by_search(qb: &mut QueryBuilder<'_, Postgres>, q: &str) {
    let escaped = like_escape(&q.to_lowercase());
    qb.push(
        "WITH chosen AS (SELECT coalesce(lower(actor_email), actor_id) AS actor_key, \
            coalesce(bool_or(lower(actor_id) LIKE ",
    )
    .push_bind(escaped.clone())
    .push(" || '%' OR lower(actor_name) LIKE ")
    .push_bind(escaped.clone())
    .push(" || '%' OR lower(actor_email) LIKE ")
    .push_bind(escaped.clone())
    .push(" || '%'), false) AS prefix FROM actor_stats WHERE ")
    .push_bind(escaped.clone())
    .push(" = '' OR lower(actor_id) LIKE '%' || ")
    .push_bind(escaped.clone())
    .push(" || '%' OR lower(actor_name) LIKE '%' || ")
    .push_bind(escaped.clone())
    .push(" || '%' OR lower(actor_email) LIKE '%' || ")
    .push_bind(escaped)
    .push(" || '%' GROUP BY 1)");
}

/// Actors whose id, name or email contains `q` (prefix matches first), most active first.
pub async fn actor_facets(
    pool: &PgPool,
    q: &str,
    limit: i64,
) -> Result<Vec<ActorFacet>, sqlx::Error> {
    let mut conn = acquire(pool, &READS).await?;
    let mut qb = QueryBuilder::new("");
    push_chosen_by_search(&mut qb, q);
    push_actor_groups(&mut qb);
    qb.push(" ORDER BY chosen.prefix DESC, count DESC, chosen.actor_key LIMIT ")
        .push_bind(limit);
    let rows: Vec<ActorFacetRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().map(ActorFacetRow::into_facet).collect())
}

#[derive(sqlx::FromRow)]
struct PagedActorRow {
    #[sqlx(flatten)]
    actor: ActorFacetRow,
    total: i64,
}

/// One page of the user picker: actors whose id, name or email contains `q`, counted under
/// `others` (the filter on screen without its users; its window resolved in one snapshot), and
/// how many match in all. With nothing else filtered every actor is listed with all its
/// entries (the statistics table: no scan); otherwise only actors with entries the filter
/// matches, with exactly those counted. Prefix matches first, then the most entries.
pub async fn actor_facet_page(
    pool: &PgPool,
    q: &str,
    others: &Filter,
    limit: i64,
    offset: i64,
) -> Result<ActorFacetPage, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    // One snapshot: the actors' rollup and the log agree in it.
    let mut tx = crate::storage::read_only_snapshot(&mut *conn).await?;
    let (head, now) = snapshot(&mut tx).await?;
    let bounds = resolve_bounds(&mut tx, others, now).await?;
    let mut qb = QueryBuilder::new("");
    push_chosen_by_search(&mut qb, q);
    qb.push(", groups AS (");
    push_actor_groups(&mut qb);
    qb.push(")");
    if others.is_everything() {
        qb.push(
            " SELECT actor_type, id, name, email, count, unknown_sign_in, count(*) OVER () AS total \
             FROM groups ORDER BY prefix DESC, count DESC, actor_key",
        );
    } else {
        qb.push(", counted AS (SELECT value AS actor_key, sum(n)::bigint AS n FROM (");
        push_field_counts(&mut qb, others, TopField::User, head, &bounds);
        qb.push(
            ") AS parts GROUP BY 1) \
             SELECT g.actor_type, g.id, g.name, g.email, c.n AS count, g.unknown_sign_in, \
                    count(*) OVER () AS total \
             FROM groups g JOIN counted c ON c.actor_key = g.actor_key \
             ORDER BY g.prefix DESC, c.n DESC, g.actor_key",
        );
    }
    qb.push(" LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    let rows: Vec<PagedActorRow> = qb.build_query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let total = match rows.first() {
        Some(r) => r.total,
        // Past the end (or nothing): the total asked again without a page.
        None if offset > 0 => {
            return Box::pin(actor_facet_page(pool, q, others, 1, 0))
                .await
                .map(|p| ActorFacetPage {
                    actors: Vec::new(),
                    total: p.total,
                })
        }
        None => 0,
    };
    Ok(ActorFacetPage {
        actors: rows.into_iter().map(|r| r.actor.into_facet()).collect(),
        total,
    })
}

/// The actors that `user=` values choose (by id, email or name, as the filter matches them),
/// for chips that read "Name <email>".
pub async fn actors_named(
    pool: &PgPool,
    values: &[String],
) -> Result<Vec<ActorFacet>, sqlx::Error> {
    let lowered: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
    let mut qb = QueryBuilder::new(
        "WITH chosen AS (SELECT DISTINCT coalesce(lower(actor_email), actor_id) AS actor_key, \
            false AS prefix FROM actor_stats WHERE lower(actor_email) = ANY(",
    );
    qb.push_bind(lowered)
        .push(") OR actor_id = ANY(")
        .push_bind(values.to_vec())
        .push(") OR actor_name = ANY(")
        .push_bind(values.to_vec())
        .push("))");
    push_actor_groups(&mut qb);
    qb.push(" ORDER BY chosen.actor_key");
    let rows: Vec<ActorFacetRow> = qb
        .build_query_as()
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

/// The action picker's list: every action the log has recorded, grouped into categories, each
/// counted under `others` (the filter on screen without its actions; its window resolved in
/// one snapshot), exactly: from the actions' hourly rollup where it keeps the filter, else from
/// the log. An action with no entry there counts 0 and stays listed, so the categories do not
/// change shape under the pointer. With nothing else filtered, [`action_facets`] (no scan).
pub async fn action_facets_under(
    pool: &PgPool,
    others: &Filter,
) -> Result<Vec<ActionCategory>, QueryError> {
    if others.is_everything() {
        return Ok(action_facets(pool).await?);
    }
    let mut conn = acquire(pool, &READS).await?;
    // One snapshot: the actions' rollup and the log agree in it.
    let mut tx = crate::storage::read_only_snapshot(&mut *conn).await?;
    let (head, now) = snapshot(&mut tx).await?;
    let bounds = resolve_bounds(&mut tx, others, now).await?;
    let mut qb = QueryBuilder::new("WITH counted AS (SELECT value, sum(n)::bigint AS n FROM (");
    push_field_counts(&mut qb, others, TopField::Action, head, &bounds);
    qb.push(
        ") AS parts GROUP BY 1) \
         SELECT s.action, coalesce(c.n, 0)::bigint AS n \
         FROM action_stats s LEFT JOIN counted c ON c.value = s.action ORDER BY s.action",
    );
    let counts: Vec<(String, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(ActionCategory::group(counts))
}
