//! Marking a database as a benchmark's scratch database (built only with the `bench` feature):
//! the benchmarks append entries that can never be deleted, so they check first whose
//! database this is.

use sqlx::PgPool;

/// The table that marks a database as a benchmark's.
const MARK: &str = "trailkeep_bench_scratch";

/// Whether the database is marked as a benchmark's, and how many entries it holds.
pub async fn inspect(owner: &PgPool) -> Result<(bool, i64), sqlx::Error> {
    let (marked, has_log): (bool, bool) = sqlx::query_as(&format!(
        "SELECT to_regclass('{MARK}') IS NOT NULL, to_regclass('audit_entries') IS NOT NULL"
    ))
    .fetch_one(owner)
    .await?;
    let entries = if has_log {
        sqlx::query_scalar("SELECT count(*) FROM audit_entries")
            .fetch_one(owner)
            .await?
    } else {
        0
    };
    Ok((marked, entries))
}

/// Marks the database as a benchmark's (as its owner).
pub async fn mark(owner: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {MARK} (marked_at timestamptz NOT NULL DEFAULT now())"
    ))
    .execute(owner)
    .await?;
    Ok(())
}
