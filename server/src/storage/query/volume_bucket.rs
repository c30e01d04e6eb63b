//! The chart's bucket of a time, said once: the log, the rollups and the memos all group by
//! this expression, so their buckets line up and add up.

use sqlx::{Postgres, QueryBuilder};

use crate::domain::query::volume::origin;

/// `SELECT date_bin(<size seconds>, <column>, <origin>) AS bucket`: the chart's bucket of a
/// time, the one expression every part of the chart (log, rollup, memo) groups by.
pub(super) fn push_bucket(qb: &mut QueryBuilder<'_, Postgres>, size: i64, column: &str) {
    qb.push("SELECT date_bin(make_interval(secs => ")
        .push_bind(size as f64)
        .push("), ")
        .push(column)
        .push(", ")
        .push_bind(origin())
        .push(") AS bucket");
}
