//! The most frequent values under a filter (the console's "Top values"): per field, the values
//! with their exact counts, most first, and how many distinct values the field has there. One
//! grouped read per field, in one read-only snapshot, under the read pool's statement timeout.

use app::filter::Filter;
use app::model::{TopField, TopValue, TopValues};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::conditions::{push_conditions, reuse_plan};
use super::error::QueryError;
use super::snapshot::{resolve_bounds, snapshot};
use crate::domain::query::volume::{hours_within, Rollup};
use crate::domain::query::window::Bounds;
use crate::storage::pools::{acquire, READS};

/// `(value as a filter takes it, what people read)` of a field, as SQL. An actor is told
/// apart as `user=` matches it: by email in any case when there is one, else by id. Where
/// people read the value itself, the label is the grouped expression (no `max()` to compute
/// over every row: a third of the read for resources and addresses).
fn field_sql(field: TopField) -> (&'static str, &'static str) {
    match field {
        TopField::User => (
            "coalesce(lower(actor_email), actor_id)",
            "max(coalesce(actor_name, actor_email, actor_id))",
        ),
        TopField::Action => ("action", "action"),
        TopField::Resource => (
            "resource_type || ':' || resource_id",
            "resource_type || ':' || resource_id",
        ),
        TopField::Ip => ("host(ip)", "host(ip)"),
    }
}

/// `SELECT value, label, n` of `field` from the log's entries matching `f` below `head` in
/// `from..to` (where set), grouped by value.
fn push_from_log(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    field: TopField,
    head: i64,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) {
    let (value, label) = field_sql(field);
    qb.push(format!(
        "SELECT {value} AS value, {label} AS label, count(*) AS n \
         FROM audit_entries WHERE seq < "
    ))
    .push_bind(head);
    push_conditions(qb, f, &Bounds { from, to });
    qb.push(" GROUP BY 1");
}

/// The same from `rollup`'s whole `hours` (no time bound of the filter applies
/// inside them: the window holds them whole).
fn push_from_rollup(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    field: TopField,
    rollup: Rollup,
    hours: Bounds,
) {
    let (value, label) = field_sql(field);
    qb.push(format!(
        "SELECT {value} AS value, {label} AS label, sum(entries)::bigint AS n FROM "
    ))
    .push(rollup.table())
    .push(" WHERE true");
    if let Some(start) = hours.from {
        qb.push(" AND hour >= ").push_bind(start);
    }
    if let Some(end) = hours.to {
        qb.push(" AND hour < ").push_bind(end);
    }
    push_conditions(qb, f, &Bounds::default());
    qb.push(" GROUP BY 1");
}

/// `SELECT value, label, n` rows whose sums per value are `field`'s exact counts under `f` (its
/// window `bounds`) below `head`: from the field's hourly rollup over the window's whole hours
/// when it keeps every field the filter names, and from the log at the window's partial edges;
/// otherwise from the log alone. Read it in one snapshot, so that the rollups and the log agree.
pub(super) fn push_field_counts(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    field: TopField,
    head: i64,
    bounds: &Bounds,
) {
    let rollup = Some(Rollup::holding(field)).filter(|r| r.keeps(f));
    match rollup.zip(hours_within(bounds.from, bounds.to)) {
        Some((rollup, hours)) => {
            push_from_rollup(qb, f, field, rollup, hours);
            if let Some(start) = hours
                .from
                .filter(|&s| bounds.from.is_some_and(|from| from < s))
            {
                qb.push(" UNION ALL ");
                push_from_log(qb, f, field, head, bounds.from, Some(start));
            }
            if let Some(end) = hours.to.filter(|&e| bounds.to.is_some_and(|to| e < to)) {
                qb.push(" UNION ALL ");
                push_from_log(qb, f, field, head, Some(end), bounds.to);
            }
        }
        None => push_from_log(qb, f, field, head, bounds.from, bounds.to),
    }
}

/// The `limit` most frequent values of every field under `f` (ties by value).
///
/// Each field is summed from its hourly rollup where that keeps the filter
/// ([`push_field_counts`]); one read-only snapshot holds every statement.
pub async fn top_values(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
) -> Result<Vec<TopValues>, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let mut tx = crate::storage::read_only_snapshot(&mut *conn).await?;
    let (head, now) = snapshot(&mut tx).await?;
    let bounds = resolve_bounds(&mut tx, f, now).await?;
    let mut out = Vec::new();
    for field in TopField::ALL {
        // `count(*) OVER ()` runs over the groups, before the limit: the number of values.
        let mut qb = QueryBuilder::new(
            "SELECT value, max(label) AS label, sum(n)::bigint AS n, \
             count(*) OVER () AS distinct_values FROM (",
        );
        push_field_counts(&mut qb, f, field, head, &bounds);
        qb.push(") AS parts WHERE value IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT ")
            .push_bind(limit);
        let rows = qb
            .build()
            .persistent(reuse_plan(f))
            .fetch_all(&mut *tx)
            .await?;
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
    tx.commit().await?;
    Ok(out)
}
