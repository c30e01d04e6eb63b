//! `ingest_usage`: events each API key ingested per minute and per UTC day
//! (migrations/0011_ingest_usage.sql). Charged inside the append's transaction, so a batch
//! that is refused or rolled back costs nothing.

use sqlx::PgConnection;
use uuid::Uuid;

/// A key's counts after a charge: this minute's and this UTC day's, and the whole seconds
/// until each period ends (at the database's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub minute: i64,
    pub minute_left: i64,
    pub day: i64,
    pub day_left: i64,
}

/// Adds `events` to the key's current minute and day (the row locks serialise one key's
/// charges across processes) and returns the new counts.
pub async fn charge(conn: &mut PgConnection, key: Uuid, events: i64) -> Result<Usage, sqlx::Error> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "INSERT INTO ingest_usage AS u (key_id, period, period_start, events) VALUES \
           ($1, 'minute', date_trunc('minute', clock_timestamp()), $2), \
           ($1, 'day', date_trunc('day', clock_timestamp() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', $2) \
         ON CONFLICT (key_id, period, period_start) DO UPDATE SET events = u.events + EXCLUDED.events \
         RETURNING period, events, ceil(extract(epoch FROM period_start \
           + CASE period WHEN 'minute' THEN interval '1 minute' ELSE interval '1 day' END \
           - clock_timestamp()))::bigint",
    )
    .bind(key)
    .bind(events)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM ingest_usage WHERE key_id = $1 AND period_start < clock_timestamp() - interval '2 days'",
    )
    .bind(key)
    .execute(&mut *conn)
    .await?;
    let find = |period: &str| {
        rows.iter()
            .find(|r| r.0 == period)
            .map(|r| (r.1, r.2))
            .ok_or_else(|| sqlx::Error::Protocol(format!("no {period} usage row returned")))
    };
    let (minute, minute_left) = find("minute")?;
    let (day, day_left) = find("day")?;
    Ok(Usage {
        minute,
        minute_left,
        day,
        day_left,
    })
}
