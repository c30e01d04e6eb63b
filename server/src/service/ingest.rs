//! Ingest by an API key within its rate limit and daily quota: the charge and the append in
//! one transaction, so a refused or failed batch costs nothing and every acknowledged event is
//! counted, across every server process (the counts live in PostgreSQL).

use app::model::Source;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::entry::event::NewEvent;
use crate::storage::{
    entries::{self, AppendError, Appended},
    ingest_usage, pools,
};

/// Events one key may append per minute and per UTC day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestLimits {
    pub per_minute: i64,
    pub per_day: i64,
}

impl Default for IngestLimits {
    fn default() -> Self {
        // Above what one machine ingests (some 6,000 events/s): a bound for a key gone wrong
        // or stolen, not a brake on a busy platform.
        IngestLimits {
            per_minute: 600_000,
            per_day: 500_000_000,
        }
    }
}

/// Which limit refused a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    PerMinute,
    PerDay,
}

#[derive(Debug)]
pub enum IngestError {
    Append(AppendError),
    /// Over a limit: nothing was stored; retry after `retry_after` seconds.
    Limited {
        limit: Limit,
        allowed: i64,
        retry_after: u32,
    },
}

impl From<sqlx::Error> for IngestError {
    fn from(e: sqlx::Error) -> Self {
        IngestError::Append(AppendError::Db(e))
    }
}

impl From<AppendError> for IngestError {
    fn from(e: AppendError) -> Self {
        IngestError::Append(e)
    }
}

/// Appends `events` sent with the key `key`, if its limits allow them all.
pub async fn append(
    pool: &PgPool,
    key: Uuid,
    events: Vec<NewEvent>,
    limits: IngestLimits,
) -> Result<Vec<Appended>, IngestError> {
    let mut conn = pools::acquire(pool, &pools::WRITES).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let usage = ingest_usage::charge(&mut tx, key, events.len() as i64).await?;
    let over = if usage.minute > limits.per_minute {
        Some((Limit::PerMinute, limits.per_minute, usage.minute_left))
    } else if usage.day > limits.per_day {
        Some((Limit::PerDay, limits.per_day, usage.day_left))
    } else {
        None
    };
    if let Some((limit, allowed, left)) = over {
        tx.rollback().await?;
        return Err(IngestError::Limited {
            limit,
            allowed,
            retry_after: left.clamp(1, 86_400) as u32,
        });
    }
    let acks = entries::append_in(&mut tx, Source::Key(key), events).await?;
    tx.commit().await?;
    Ok(acks)
}
