//! What a read pins before it starts: the chain position and the database clock (every
//! later page of the same listing reads the same entries), and the filter's time bounds,
//! with dates read in the filter's zone by PostgreSQL's own zone database.

use app::filter::{Filter, FilterError};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

use super::error::QueryError;
use crate::domain::query::cursor::Cursor;
use crate::domain::query::live_filter::LiveFilter;
use crate::domain::query::window::{self, Bounds};
use crate::storage::pools::{acquire, READS};

/// The first page pins a snapshot: the chain position and the database clock.
pub(super) async fn snapshot(conn: &mut PgConnection) -> Result<(i64, DateTime<Utc>), sqlx::Error> {
    sqlx::query_as("SELECT next_seq, now() FROM chain_head WHERE singleton")
        .fetch_one(conn)
        .await
}

/// How many months retention has dropped: a memo (the chart's, Top values') built at another
/// count is not read, since entries it counted may have left the log.
pub(super) async fn archived(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM archived_months")
        .fetch_one(conn)
        .await
}

/// The time zone names PostgreSQL knows (`pg_timezone_names` reads the zone files: once per
/// process).
pub async fn time_zones<'e>(
    db: impl PgExecutor<'e>,
) -> Result<&'static std::collections::BTreeSet<String>, sqlx::Error> {
    static NAMES: tokio::sync::OnceCell<std::collections::BTreeSet<String>> =
        tokio::sync::OnceCell::const_new();
    NAMES
        .get_or_try_init(|| async {
            let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pg_timezone_names")
                .fetch_all(db)
                .await?;
            Ok(names.into_iter().collect())
        })
        .await
}

/// `instants` as wall-clock times in `zone` (a name PostgreSQL knows: one the filter's check
/// let through), in order.
pub async fn wall_clocks(
    pool: &PgPool,
    instants: &[DateTime<Utc>],
    zone: &str,
) -> Result<Vec<chrono::NaiveDateTime>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT t AT TIME ZONE $2 FROM unnest($1::timestamptz[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
    )
    .bind(instants)
    .bind(zone)
    .fetch_all(pool)
    .await
}

/// Turns the window into instants. Dates are read in the filter's time zone, which PostgreSQL
/// resolves from its own time zone database (an unknown zone is a 400).
pub(super) async fn resolve_bounds(
    conn: &mut PgConnection,
    f: &Filter,
    now: DateTime<Utc>,
) -> Result<Bounds, QueryError> {
    let tz = f.tz.as_deref().unwrap_or("UTC");
    if f.tz.is_some() && !time_zones(&mut *conn).await?.contains(tz) {
        return Err(FilterError::new("tz", format!("{tz:?} is not a known IANA time zone")).into());
    }
    let local = window::local_times(f);
    let mut resolved: Vec<DateTime<Utc>> = Vec::new();
    if !local.is_empty() {
        resolved = sqlx::query_scalar("SELECT t AT TIME ZONE $2 FROM unnest($1::timestamp[]) WITH ORDINALITY AS u(t, n) ORDER BY n")
            .bind(&local)
            .bind(tz)
            .fetch_all(conn)
            .await?;
    }
    Ok(window::bounds(f, now, resolved)?)
}

/// The snapshot a page reads (the cursor's, or a new one for a first page) and its time bounds.
pub(super) async fn pin(
    conn: &mut PgConnection,
    f: &Filter,
    cursor: Option<Cursor>,
) -> Result<(i64, DateTime<Utc>, Bounds), QueryError> {
    let (seq_limit, now) = match cursor {
        Some(c) => (c.seq_limit, c.now),
        None => snapshot(conn).await?,
    };
    Ok((seq_limit, now, resolve_bounds(conn, f, now).await?))
}

/// `filter` ready for a live stream: its window resolved now.
pub async fn live_filter(pool: &PgPool, filter: Filter) -> Result<LiveFilter, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let bounds = resolve_bounds(&mut conn, &filter, Utc::now()).await?;
    Ok(LiveFilter::new(filter, bounds))
}

/// What a read did inside `savepoint` (a savepoint of its snapshot), for work the read can go
/// on without (a memo's counting): kept when it succeeded, `None` when the server stopped it at
/// its statement timeout (rolled back, so the snapshot goes on), any other error returned.
pub(super) async fn best_effort<T>(
    savepoint: sqlx::Transaction<'_, sqlx::Postgres>,
    done: Result<T, sqlx::Error>,
    what: &str,
) -> Result<Option<T>, QueryError> {
    match done {
        Ok(value) => {
            savepoint.commit().await?;
            Ok(Some(value))
        }
        Err(e) if crate::storage::is_statement_timeout(&e) => {
            savepoint.rollback().await?;
            tracing::warn!("{what} took longer than the read pool allows; not kept");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
