//! The live channel: PostgreSQL announces each committed insert into the log
//! (migrations/0003_live.sql) with the highest `seq` it wrote.

use sqlx::{postgres::PgListener, PgPool};

/// The channel the log's insert trigger notifies.
pub const CHANNEL: &str = "trailkeep_entries";

/// A listener on [`CHANNEL`], on its own connection.
pub async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// The highest `seq` a notification announces.
pub fn announced_seq(payload: &str) -> Option<i64> {
    payload.parse().ok()
}
