//! Keeps the log's monthly partitions ahead of the clock: an append lands in the partition of
//! its `recorded_at` month, and there is no DEFAULT partition, so a month without one would
//! refuse every append. [`keep_ahead`] runs before the server serves and then hourly in every
//! process; the database serialises the makers, so several processes behave as one. `/readyz`
//! fails when fewer than [`READY_AHEAD`] months ahead exist.

use std::time::Duration;

use sqlx::PgPool;

use crate::storage::partitions;

/// Months after the current one that the keeper makes.
pub const AHEAD: i32 = 2;

/// Fewer months ahead than this and the server is not ready.
pub const READY_AHEAD: i32 = 1;

/// How often each process checks (a month's margin makes an hour plenty).
const EVERY: Duration = Duration::from_secs(3600);

/// Makes what is missing through [`AHEAD`] months ahead; returns how many were made.
pub async fn keep_ahead(pool: &PgPool) -> Result<i32, sqlx::Error> {
    let made = partitions::make(pool, AHEAD).await?;
    if made > 0 {
        tracing::info!(made, ahead = AHEAD, "made the log's monthly partitions");
    }
    Ok(made)
}

/// [`keep_ahead`] each hour until `stop` resolves (a failure is logged and tried again).
pub async fn run(pool: PgPool, stop: impl std::future::Future<Output = ()>) {
    let pool = &pool;
    super::periodic::every(EVERY, stop, || async move {
        if let Err(e) = keep_ahead(pool).await {
            tracing::warn!(error = %e, "making the log's monthly partitions failed; retrying");
        }
    })
    .await
}
