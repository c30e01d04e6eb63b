//! PostgreSQL: the only state Trailkeep has. Every query lives in a module of this folder,
//! next to the type it reads or writes.

pub mod alerts;
pub mod api_keys;
pub mod checkpoints;
pub mod entries;
pub mod exports;
pub mod ingest_usage;
pub mod invitations;
pub mod live;
pub mod notifications;
pub mod partitions;
pub mod pools;
pub mod query;
pub mod retention;
pub mod saved_searches;
#[cfg(feature = "bench")]
pub mod scratch;
pub mod sessions;
pub mod settings;
pub mod sign_ins;
pub mod tree;
pub mod two_factor;
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

/// Why connecting, migrating or handing the schema over failed. No message holds the
/// connection string (it may carry a password): only what sqlx says went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `DATABASE_URL` does not parse as a PostgreSQL connection string.
    #[error("DATABASE_URL is not a PostgreSQL URL: {0}")]
    Url(#[source] sqlx::Error),
    /// The serving pool cannot connect, or cannot switch to [`WRITER_ROLE`] (not migrated, or
    /// the login is not a member of it).
    #[error(
        "cannot connect as {writer}: {0}. Run `trailkeep migrate` first and connect as a \
         member of {writer} (see README, \"Database roles\")",
        writer = WRITER_ROLE
    )]
    ConnectWriter(#[source] sqlx::Error),
    /// The owner's pool (migrations, administration) cannot connect.
    #[error("cannot connect to the database: {0}")]
    ConnectOwner(#[source] sqlx::Error),
    /// A migration failed (or the applied ones are not this binary's).
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// `--owner` names no plain role (it is spliced into SQL, so only these characters pass).
    #[error(
        "--owner {role:?}: give a role name of lower-case letters, digits and _, such as \
         trailkeep_owner"
    )]
    OwnerName { role: String },
    /// Only a superuser can give the tables to a role nobody logs in as.
    #[error(
        "--owner needs a superuser connection (e.g. DATABASE_URL of the postgres user): \
         only a superuser can give the tables to a role nobody logs in as"
    )]
    NotSuperuser,
    /// The role named by `--owner` can log in: owning the log, it could switch its guards off.
    #[error(
        "{role} can log in: give the tables to a NOLOGIN role (ALTER ROLE {role} \
         NOLOGIN, or name a new one)"
    )]
    OwnerCanLogIn { role: String },
    /// The database failed while the tables were being handed over (nothing was: one
    /// transaction).
    #[error("handing the tables to {role}: {source}")]
    HandOver { role: String, source: sqlx::Error },
}

/// A pool for the serving process. Every connection switches to [`WRITER_ROLE`], so even a
/// connection string with more rights cannot change the log through the server.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, SetupError> {
    let options: PgConnectOptions = url.parse().map_err(SetupError::Url)?;
    connect_with(options, max_connections).await
}

pub async fn connect_with(
    options: PgConnectOptions,
    max_connections: u32,
) -> Result<PgPool, SetupError> {
    connect_as_writer(options, max_connections, None).await
}

/// A pool for reads: every statement stops after `statement_timeout` (PostgreSQL cancels it;
/// [`is_statement_timeout`] recognises the error), so no search holds a connection longer.
pub async fn connect_reads(
    options: PgConnectOptions,
    max_connections: u32,
    statement_timeout: Duration,
) -> Result<PgPool, SetupError> {
    connect_as_writer(options, max_connections, Some(statement_timeout)).await
}

async fn connect_as_writer(
    options: PgConnectOptions,
    max_connections: u32,
    statement_timeout: Option<Duration>,
) -> Result<PgPool, SetupError> {
    let timeout_ms = statement_timeout.map(|t| t.as_millis().max(1));
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute("SET ROLE trailkeep_writer").await?;
                if let Some(ms) = timeout_ms {
                    conn.execute(format!("SET statement_timeout = {ms}").as_str())
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await;
    pool.map_err(SetupError::ConnectWriter)
}

/// A read-only snapshot: one transaction at `REPEATABLE READ`, so a check that reads the log in
/// several statements sees it as of one instant while appends go on. The one place such a
/// transaction is opened.
/// Opened on a pool, or on a connection already taken (`&mut *conn`).
pub async fn read_only_snapshot<'c, A>(
    on: A,
) -> Result<sqlx::Transaction<'c, sqlx::Postgres>, sqlx::Error>
where
    A: sqlx::Acquire<'c, Database = sqlx::Postgres>,
{
    let mut tx = on.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    // Before the snapshot is taken (LOCK takes none): a month that retention drops commits
    // either wholly before it (its archived_months row seen) or after the transaction.
    sqlx::query("LOCK TABLE ONLY audit_entries IN ACCESS SHARE MODE")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Whether the database could not be reached or went away (pool exhausted or closed, network,
/// PostgreSQL shutting down, restarting or starting up): retrying later makes sense. Anything
/// else is a defect.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P01-57P05: shutdown, crash, starting up, idle timeouts.
            code.starts_with("08") || code.starts_with("57P")
        }),
        _ => false,
    }
}

/// Whether PostgreSQL stopped a statement at its `statement_timeout` (SQLSTATE 57014).
pub fn is_statement_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("57014"))
}

/// A pool with the connecting user's own rights, for migrations and administration.
pub async fn connect_owner(url: &str) -> Result<PgPool, SetupError> {
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(SetupError::ConnectOwner)
}

/// Applies every migration this binary carries that the database lacks.
pub async fn migrate(pool: &PgPool) -> Result<(), SetupError> {
    Ok(MIGRATOR.run(pool).await?)
}

/// Hands every table and function of the schema (extensions' own aside) to `role`, a
/// `NOLOGIN` role created when missing, so that no login owns the log: whoever owns the tables
/// can switch their guards off. Needs a superuser connection (as `trailkeep migrate --owner`
/// runs), and is repeated after each migration, which creates objects as the connecting user.
pub async fn hand_over(pool: &PgPool, role: &str) -> Result<(), SetupError> {
    let valid = role
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role.len() <= 63;
    if !valid {
        return Err(SetupError::OwnerName { role: role.into() });
    }
    let db = |source: sqlx::Error| SetupError::HandOver {
        role: role.into(),
        source,
    };
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(pool)
            .await
            .map_err(db)?;
    if !superuser {
        return Err(SetupError::NotSuperuser);
    }
    let mut tx = pool.begin().await.map_err(db)?;
    let exists: Option<bool> =
        sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1")
            .bind(role)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
    match exists {
        None => {
            // The name is checked above: plain lower-case letters, digits and _.
            sqlx::query(&format!("CREATE ROLE {role} NOLOGIN"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        Some(true) => return Err(SetupError::OwnerCanLogIn { role: role.into() }),
        Some(false) => {}
    }
    let statements: Vec<String> = sqlx::query_scalar(
        "SELECT format('ALTER TABLE public.%I OWNER TO %I', c.relname, $1) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') \
         UNION ALL \
         SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, $1) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'public' \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    )
    .bind(role)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    // The schema too: its owner may drop any table in it, owned or not.
    let statements = statements
        .into_iter()
        .chain([format!("ALTER SCHEMA public OWNER TO {role}")]);
    for statement in statements {
        sqlx::query(&statement)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)
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
