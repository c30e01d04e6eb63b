//! The most frequent values under a filter (the console's "Top values"): per field, the values
//! with their exact counts, most first, and how many distinct values the field has there. One
//! grouped read per field, in one snapshot, under the read pool's statement timeout.

use app::filter::Filter;
use app::model::{TopField, TopValue, TopValues};
use sqlx::{PgPool, QueryBuilder, Row};

use super::conditions::push_conditions;
use super::error::QueryError;
use super::snapshot::{resolve_bounds, snapshot};
use crate::storage::pools::{acquire, READS};

/// `(value as a filter takes it, what people read)` of a field, as SQL. An actor is told
/// apart as `user=` matches it: by email in any case when there is one, else by id.
fn field_sql(field: TopField) -> (&'static str, &'static str) {
    match field {
        TopField::User => (
            "coalesce(lower(actor_email), actor_id)",
            "coalesce(actor_name, actor_email, actor_id)",
        ),
        TopField::Action => ("action", "action"),
        TopField::Resource => (
            "resource_type || ':' || resource_id",
            "resource_type || ':' || resource_id",
        ),
        TopField::Ip => ("host(ip)", "host(ip)"),
    }
}

/// The `limit` most frequent values of every field under `f` (ties by value).
pub async fn top_values(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
) -> Result<Vec<TopValues>, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let (head, now) = snapshot(&mut conn).await?;
    let bounds = resolve_bounds(&mut conn, f, now).await?;
    let mut out = Vec::new();
    for field in TopField::ALL {
        let (value, label) = field_sql(field);
        // `count(*) OVER ()` runs over the groups, before the limit: the number of values.
        let mut qb = QueryBuilder::new(format!(
            "SELECT {value} AS value, max({label}) AS label, count(*) AS n, \
             count(*) OVER () AS distinct_values FROM audit_entries WHERE seq < "
        ));
        qb.push_bind(head);
        push_conditions(&mut qb, f, &bounds);
        qb.push(format!(
            " AND {value} IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT "
        ))
        .push_bind(limit);
        let rows = qb.build().fetch_all(&mut *conn).await?;
        let mut distinct = 0;
        let mut values = Vec::with_capacity(rows.len());
        for row in rows {
            distinct = row.try_get("distinct_values")?;
            values.push(TopValue {
                value: row.try_get("value")?,
                label: row.try_get("label")?,
                count: row.try_get("n")?,
            });
        }
        out.push(TopValues {
            field,
            values,
            distinct,
        });
    }
    Ok(out)
}
