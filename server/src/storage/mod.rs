//! PostgreSQL: the only state Trailkeep has. Every query lives in a module of this folder,
//! next to the type it reads or writes.

pub mod api_keys;
pub mod entries;
pub mod live;
pub mod query;
#[cfg(feature = "bench")]
pub mod scratch;
pub mod sessions;
pub mod sign_ins;
pub mod users;

use std::time::Duration;

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    Executor, PgPool,
};

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The database role the server works as: SELECT and INSERT on the log, nothing more.
pub const WRITER_ROLE: &str = "trailkeep_writer";

/// A pool for the serving process. Every connection switches to [`WRITER_ROLE`], so even a
/// connection string with more rights cannot change the log through the server.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, String> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e| format!("DATABASE_URL is not a PostgreSQL URL: {e}"))?;
    connect_with(options, max_connections).await
}

pub async fn connect_with(
    options: PgConnectOptions,
    max_connections: u32,
) -> Result<PgPool, String> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("SET ROLE trailkeep_writer").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await;
    pool.map_err(|e| {
        format!(
            "cannot connect as {WRITER_ROLE}: {e}. Run `trailkeep migrate` first and connect as a \
             member of {WRITER_ROLE} (see README, \"Database roles\")"
        )
    })
}

/// A pool with the connecting user's own rights, for migrations and administration.
pub async fn connect_owner(url: &str) -> Result<PgPool, String> {
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))
}

pub async fn migrate(pool: &PgPool) -> Result<(), String> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| format!("migration failed: {e}"))
}

/// The key that signs pagination cursors (created by the migrations).
pub async fn cursor_key(pool: &PgPool) -> Result<Vec<u8>, sqlx::Error> {
    sqlx::query_scalar("SELECT cursor_key FROM server_secret WHERE singleton")
        .fetch_one(pool)
        .await
}

/// Whether every migration this binary carries is applied (and none failed): a server that
/// runs ahead of its schema is not ready.
pub async fn migrations_current(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?;
    Ok(MIGRATOR
        .iter()
        .all(|m| applied.binary_search(&m.version).is_ok()))
}

/// One round trip: the database answers.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}
