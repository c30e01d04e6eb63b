//! The most frequent values under a filter (the console's "Top values"): per field, the values
//! with their exact counts, most first, and how many distinct values the field has there. A
//! field whose hourly rollup keeps the filter is summed from it; the others are counted
//! together in one grouped pass over the matching entries. Every read is in one read-only
//! snapshot, under the read pool's statement timeout (one for the pass, however many fields
//! it counts).

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

/// `(value as a filter takes it, what people read of one row)` of a field, as SQL. An actor
/// is told apart as `user=` matches it: by email in any case when there is one, else by id,
/// and read by name (the largest of its rows'). Where people read the value itself there is no
/// second expression: the label is the grouped value (no `max()` to compute over every row: a
/// third of the read for resources and addresses).
fn field_sql(field: TopField) -> (&'static str, Option<&'static str>) {
    match field {
        TopField::User => (
            "coalesce(lower(actor_email), actor_id)",
            Some("coalesce(actor_name, actor_email, actor_id)"),
        ),
        TopField::Action => ("action", None),
        TopField::Resource => ("resource_type || ':' || resource_id", None),
        TopField::Ip => ("host(ip)", None),
    }
}

/// `value AS value, <label> AS label` of `field`, grouped by value.
fn grouped_value_and_label(field: TopField) -> String {
    let (value, label) = field_sql(field);
    match label {
        Some(label) => format!("{value} AS value, max({label}) AS label"),
        None => format!("{value} AS value, {value} AS label"),
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
    qb.push(format!(
        "SELECT {}, count(*) AS n FROM audit_entries WHERE seq < ",
        grouped_value_and_label(field)
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
    qb.push(format!(
        "SELECT {}, sum(entries)::bigint AS n FROM ",
        grouped_value_and_label(field)
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

/// The hourly rollup of `field` and the whole hours of the window to read from it, when it
/// keeps every field `f` names and the window holds a whole hour.
fn rollup_hours(f: &Filter, field: TopField, bounds: &Bounds) -> Option<(Rollup, Bounds)> {
    Some(Rollup::holding(field))
        .filter(|r| r.keeps(f))
        .zip(hours_within(bounds.from, bounds.to))
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
    match rollup_hours(f, field, bounds) {
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

/// `SELECT field, value, label, n, distinct_values` of the `limit` most frequent values of
/// each of `fields` (numbered by their [`place`]) among the log's entries matching `f`
/// below `head` in its window: one pass over the matching entries for every field, each entry
/// giving one `(field, value, label)` row per field, grouped; most first, ties by value.
fn push_fields_from_log(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    fields: &[TopField],
    head: i64,
    bounds: &Bounds,
    limit: i64,
) {
    let rows: Vec<String> = fields
        .iter()
        .map(|&field| {
            let (value, label) = field_sql(field);
            let i = place(field);
            format!("({i}, {value}, {})", label.unwrap_or("NULL::text"))
        })
        .collect();
    qb.push(format!(
        "SELECT field, value, coalesce(label, value) AS label, n, distinct_values FROM ( \
           SELECT field, value, label, n, count(*) OVER (PARTITION BY field) AS distinct_values, \
                  row_number() OVER (PARTITION BY field ORDER BY n DESC, value) AS rank \
           FROM ( \
             SELECT top_field AS field, top_value AS value, max(top_label) AS label, count(*) AS n \
             FROM audit_entries \
             CROSS JOIN LATERAL (VALUES {}) AS one_per_field(top_field, top_value, top_label) \
             WHERE top_value IS NOT NULL AND seq < ",
        rows.join(", ")
    ))
    .push_bind(head);
    push_conditions(qb, f, bounds);
    qb.push(" GROUP BY 1, 2) AS counts) AS ranked WHERE rank <= ")
        .push_bind(limit)
        .push(" ORDER BY field, rank");
}

/// The `limit` most frequent values of every field under `f` (ties by value).
///
/// A field whose hourly rollup keeps the filter is summed from it ([`push_field_counts`]); the
/// others are counted together in one pass over the matching entries
/// ([`push_fields_from_log`]), so a search the rollups cannot answer reads its matches once,
/// not once per field. One read-only snapshot holds every statement.
pub async fn top_values(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
) -> Result<Vec<TopValues>, QueryError> {
    top_values_with(pool, f, limit, true).await
}

/// [`top_values`] as it read before the one pass: every field counted on its own (a pass over
/// the matching entries per field the rollups cannot answer). The benchmark's baseline, built
/// only with the `bench` feature, never into the product binary.
#[cfg(feature = "bench")]
pub async fn top_values_per_field(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
) -> Result<Vec<TopValues>, QueryError> {
    top_values_with(pool, f, limit, false).await
}

async fn top_values_with(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
    one_pass: bool,
) -> Result<Vec<TopValues>, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let mut tx = crate::storage::read_only_snapshot(&mut *conn).await?;
    let (head, now) = snapshot(&mut tx).await?;
    let bounds = resolve_bounds(&mut tx, f, now).await?;
    let mut out: Vec<TopValues> = TopField::ALL
        .into_iter()
        .map(|field| TopValues {
            field,
            values: Vec::new(),
            distinct: 0,
        })
        .collect();
    let (summed, counted): (Vec<TopField>, Vec<TopField>) = TopField::ALL
        .into_iter()
        .partition(|&field| !one_pass || rollup_hours(f, field, &bounds).is_some());
    for field in summed {
        // `count(*) OVER ()` runs over the groups, before the limit: the number of values.
        let mut qb = QueryBuilder::new(format!(
            "SELECT {} AS field, value, max(label) AS label, sum(n)::bigint AS n, \
             count(*) OVER () AS distinct_values FROM (",
            place(field)
        ));
        push_field_counts(&mut qb, f, field, head, &bounds);
        qb.push(") AS parts WHERE value IS NOT NULL GROUP BY value ORDER BY n DESC, value LIMIT ")
            .push_bind(limit);
        let rows = qb
            .build()
            .persistent(reuse_plan(f))
            .fetch_all(&mut *tx)
            .await?;
        fill(&mut out, rows)?;
    }
    if !counted.is_empty() {
        let mut qb = QueryBuilder::new("");
        push_fields_from_log(&mut qb, f, &counted, head, &bounds, limit);
        let rows = qb
            .build()
            .persistent(reuse_plan(f))
            .fetch_all(&mut *tx)
            .await?;
        fill(&mut out, rows)?;
    }
    tx.commit().await?;
    Ok(out)
}

/// A field's place in [`TopField::ALL`], the order of the answer.
fn place(field: TopField) -> usize {
    TopField::ALL
        .iter()
        .position(|&f| f == field)
        .expect("TopField::ALL holds every field")
}

/// Adds `field, value, label, n, distinct_values` rows (most first) to the lists of `out`,
/// each to the field at its [`place`].
fn fill(out: &mut [TopValues], rows: Vec<sqlx::postgres::PgRow>) -> Result<(), sqlx::Error> {
    for row in rows {
        let i: i32 = row.try_get("field")?;
        let top = &mut out[i as usize];
        top.distinct = row.try_get("distinct_values")?;
        top.values.push(TopValue {
            value: row.try_get("value")?,
            label: row.try_get("label")?,
            count: row.try_get("n")?,
        });
    }
    Ok(())
}
