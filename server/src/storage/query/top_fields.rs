//! How Top values read a field of the log's entries, shared by the read (`top`) and its memo
//! (`top_memo`): each field's value and label as SQL, its number in the answer, and the one
//! pass that groups the matching entries by field and value (by UTC day too, for a memo).

use app::filter::Filter;
use app::model::TopField;
use sqlx::{Postgres, QueryBuilder};

use super::conditions::push_conditions;
use crate::domain::query::window::Bounds;

/// `(value as a filter takes it, what people read of one row)` of a field, as SQL. An actor
/// is told apart as `user=` matches it: by email in any case when there is one, else by id,
/// and read by name (the largest of its rows'). Where people read the value itself there is no
/// second expression: the label is the grouped value (no `max()` to compute over every row: a
/// third of the read for resources and addresses).
pub(super) fn field_sql(field: TopField) -> (&'static str, Option<&'static str>) {
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
pub(super) fn grouped_value_and_label(field: TopField) -> String {
    let (value, label) = field_sql(field);
    match label {
        Some(label) => format!("{value} AS value, max({label}) AS label"),
        None => format!("{value} AS value, {value} AS label"),
    }
}

/// A field's place in [`TopField::ALL`], the order of the answer: its number in every row a
/// read or a memo holds.
pub(super) fn place(field: TopField) -> usize {
    TopField::ALL
        .iter()
        .position(|&f| f == field)
        .expect("TopField::ALL holds every field")
}

/// `SELECT [day,] field, value, label, n` of the log's entries matching `f` with seq in `seqs`
/// within `bounds`, grouped by field and value (and UTC `day`, with `by_day`): one pass over
/// the matching entries for all of `fields`, each entry giving one `(field, value, label)` row
/// per field. `label` is NULL where it is the value.
pub(super) fn push_grouped_from_log(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    fields: &[TopField],
    seqs: std::ops::Range<i64>,
    bounds: &Bounds,
    by_day: bool,
) {
    let rows: Vec<String> = fields
        .iter()
        .map(|&field| {
            let (value, label) = field_sql(field);
            let i = place(field);
            format!("({i}, {value}, {})", label.unwrap_or("NULL::text"))
        })
        .collect();
    qb.push("SELECT ");
    if by_day {
        qb.push("date_trunc('day', occurred_at, 'UTC') AS day, ");
    }
    qb.push(format!(
        "top_field AS field, top_value AS value, max(top_label) AS label, count(*) AS n \
         FROM audit_entries \
         CROSS JOIN LATERAL (VALUES {}) AS one_per_field(top_field, top_value, top_label) \
         WHERE top_value IS NOT NULL AND seq < ",
        rows.join(", ")
    ))
    .push_bind(seqs.end);
    if seqs.start > 0 {
        qb.push(" AND seq >= ").push_bind(seqs.start);
    }
    push_conditions(qb, f, bounds);
    qb.push(if by_day {
        " GROUP BY 1, 2, 3"
    } else {
        " GROUP BY 1, 2"
    });
}
