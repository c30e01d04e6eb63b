//! The `trailkeep` command line.

use std::{io::Write, time::Instant};

use app::model::{Role, Source};
use chrono::{Timelike, Utc};
use leptos::prelude::get_configuration;
use sqlx::PgPool;

use super::{config, http, keyfile};
use crate::{
    domain::{auth, demo},
    service::accounts::{self, Acting},
    storage::{self, entries},
};

const USAGE: &str = "\
trailkeep — a tamper-evident audit log

USAGE:
  trailkeep serve                       serve the console and API (LEPTOS_SITE_ADDR, DATABASE_URL)
  trailkeep migrate [--owner ROLE]      apply database migrations (connect as the schema owner);
                                        --owner (as a superuser) then gives every table and
                                        function to ROLE, a NOLOGIN role, so no login owns the log
  trailkeep user create --email E --name N --role admin|compliance|member
                                        (the password is read as one line from stdin)
  trailkeep user set-role --email E --role R
  trailkeep user unlock --email E       forget the account's failed sign-ins (recorded)
  trailkeep key create --name N --scope ingest,read   (prints the key once)
  trailkeep key revoke <key id or prefix>
  trailkeep seed --demo [--count N] [--if-empty]      demo accounts and a 90-day history
  trailkeep verify [--checkpoint FILE] [--key VKEY] [--no-checkpoints]
                                        recompute every hash, the Merkle tree and every stored
                                        checkpoint; check that the log still holds what a
                                        checkpoint saved earlier (--checkpoint) and the signer's
                                        memory beside the key file signed; exit 1 on the first
                                        bad thing, 2 when something could not be checked (VKEY:
                                        the verifier key, or a file holding it; default: the key
                                        file's)
  trailkeep verify-export FILE --key VKEY [--allow-unproven]
                                        check a JSON or NDJSON export without the database:
                                        every leaf hash, every inclusion proof, the checkpoint's
                                        signature, every entry against the stated filter and
                                        period; prints the filter and whether the export is
                                        complete; exit 1 naming the first bad entry (entries
                                        newer than the checkpoint too, unless allowed)
  trailkeep key-info                    print the log's verifier key (TRAILKEEP_KEY_FILE), which
                                        auditors pin; creates the key if there is none

Benchmarks are a separate binary, never part of this one: `trailkeep-bench` (make bench-*).
";

/// Runs the command line; returns the process exit code.
pub async fn run(args: Vec<String>) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["serve"] => serve().await,
        ["migrate", rest @ ..] => migrate(rest).await,
        ["user", "create", rest @ ..] => user_create(rest).await,
        ["user", "set-role", rest @ ..] => user_set_role(rest).await,
        ["user", "unlock", rest @ ..] => user_unlock(rest).await,
        ["key", "create", rest @ ..] => key_create(rest).await,
        ["key", "revoke", id] => key_revoke(id).await,
        ["seed", rest @ ..] => seed(rest).await,
        ["verify", rest @ ..] => return verify(rest).await,
        ["key-info"] => key_info(),
        ["verify-export", file, rest @ ..] => return verify_export(file, rest),
        ["help"] | ["--help"] | ["-h"] => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// `--name value` pairs and bare `--flag`s.
pub struct Options<'a>(&'a [&'a str]);

impl<'a> Options<'a> {
    pub fn new(words: &'a [&'a str], known: &[&str]) -> Result<Self, String> {
        for w in words.iter().filter(|w| w.starts_with("--")) {
            if !known.contains(w) {
                return Err(format!("unknown option {w}\n\n{USAGE}"));
            }
        }
        Ok(Options(words))
    }
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .position(|w| *w == name)
            .and_then(|i| self.0.get(i + 1).copied())
    }
    pub fn required(&self, name: &str) -> Result<&'a str, String> {
        self.value(name)
            .ok_or_else(|| format!("{name} is required\n\n{USAGE}"))
    }
    pub fn flag(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
    pub fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        self.value(name)
            .map(|v| {
                v.replace('_', "")
                    .parse()
                    .map_err(|_| format!("{name} must be a number"))
            })
            .unwrap_or(Ok(default))
    }
}

pub async fn pool() -> Result<PgPool, String> {
    storage::connect(&config::database_url()?, 8).await
}

async fn serve() -> Result<(), String> {
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_none() {
        std::env::set_var("LEPTOS_OUTPUT_NAME", "trailkeep");
    }
    let conf = get_configuration(None).map_err(|e| format!("Leptos configuration: {e}"))?;
    let leptos_options = conf.leptos_options;
    let addr = leptos_options.site_addr;
    let config = config::Config::from_env()?;
    let options: sqlx::postgres::PgConnectOptions = config::database_url()?
        .parse()
        .map_err(|e| format!("DATABASE_URL is not a PostgreSQL URL: {e}"))?;
    let pool = storage::connect_with(options.clone(), config.db.connections).await?;
    let reads = storage::connect_reads(
        options,
        config.db.read_connections,
        config.db.read_statement,
    )
    .await?;
    let limits = config.http;
    let log = config.log.clone();
    let key = keyfile::load_or_create(&log.key_file, log.origin.as_deref())?;
    let mut state = http::AppState::new(pool, reads, leptos_options, config).await?;
    state.log_key = Some(std::sync::Arc::new(key.verifier().clone()));
    let memory = crate::service::checkpoints::Memory::beside(&log.key_file);
    state.signer_memory = Some(std::sync::Arc::new(memory.clone()));
    state.signing_key = Some(std::sync::Arc::new(key.clone()));
    let shutdown = state.shutdown.clone();
    let stopping = shutdown.clone();
    tokio::spawn(crate::service::tree::run(state.pool.clone(), async move {
        stopping.started().await
    }));
    let stopping = shutdown.clone();
    tokio::spawn(crate::service::accounts::run_sign_in_summaries(
        state.pool.clone(),
        async move { stopping.started().await },
    ));
    let stopping = shutdown.clone();
    tokio::spawn(crate::service::checkpoints::run(
        state.pool.clone(),
        key,
        log.checkpoint_every,
        Some(memory),
        async move { stopping.started().await },
    ));
    let after = state.clone();
    let app = http::router(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "trailkeep serving on http://{addr}");
    http::serve::serve(listener, app, limits, async move {
        shutdown_signal().await;
        tracing::info!("SIGTERM or Ctrl-C: shutting down");
        shutdown.begin();
    })
    .await;
    // Live sockets were told at the start of the drain; their closing frames take moments.
    after
        .live_sockets_closed(limits.grace.min(std::time::Duration::from_secs(2)))
        .await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn migrate(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--owner"])?;
    let pool = storage::connect_owner(&config::database_url()?).await?;
    storage::migrate(&pool).await?;
    tracing::info!("migrations applied");
    if let Some(role) = o.value("--owner") {
        storage::hand_over(&pool, role).await?;
        tracing::info!(role, "the tables and functions now belong to {role}");
    }
    Ok(())
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?} (admin, compliance, member)"))
}

async fn user_unlock(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--email"])?;
    let email = o.required("--email")?;
    let pool = pool().await?;
    let n = accounts::unlock(&pool, email, &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    println!("unlocked {email}: {n} failed sign-ins forgotten");
    Ok(())
}

async fn user_create(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--email", "--name", "--role"])?;
    let (email, name, role) = (
        o.required("--email")?,
        o.required("--name")?,
        parse_role(o.required("--role")?)?,
    );
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = password.trim_end_matches(['\n', '\r']);
    let pool = pool().await?;
    let id = accounts::create_user(&pool, email, name, role, password, &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    println!("created user {email} ({}) id {id}", role.as_str());
    Ok(())
}

async fn user_set_role(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--email", "--role"])?;
    let role = parse_role(o.required("--role")?)?;
    let pool = pool().await?;
    accounts::set_role(&pool, o.required("--email")?, role, &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    println!("role set to {}", role.as_str());
    Ok(())
}

async fn key_create(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--name", "--scope"])?;
    let scopes = auth::parse_scopes(o.required("--scope")?)?;
    let pool = pool().await?;
    let (id, key) = accounts::create_key(&pool, o.required("--name")?, &scopes, &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("created key {id}; it is shown once, store it now:");
    println!("{key}");
    Ok(())
}

async fn key_revoke(id: &str) -> Result<(), String> {
    let pool = pool().await?;
    let key = accounts::revoke_key(&pool, id, &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    println!("revoked key {} ({})", key.prefix, key.name);
    Ok(())
}

pub const DEMO_PASSWORD_DEFAULT: &str = "trailkeep-demo";

async fn seed(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--demo", "--count", "--if-empty"])?;
    if !o.flag("--demo") {
        return Err("only demo data can be seeded: trailkeep seed --demo".into());
    }
    let count = o.number("--count", 50_000)?;
    let pool = pool().await?;
    let password =
        std::env::var("TRAILKEEP_DEMO_PASSWORD").unwrap_or_else(|_| DEMO_PASSWORD_DEFAULT.into());
    for (email, name, role) in [
        ("admin@company.com", "Avery Admin", Role::Admin),
        (
            "compliance@company.com",
            "Casey Compliance",
            Role::Compliance,
        ),
        ("member@company.com", "Morgan Member", Role::Member),
    ] {
        if !storage::users::exists(&pool, email)
            .await
            .map_err(|e| e.to_string())?
        {
            accounts::create_user(&pool, email, name, role, &password, &Acting::cli())
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let existing = entries::count_all(&pool).await.map_err(|e| e.to_string())?;
    if o.flag("--if-empty") && existing > 10 {
        eprintln!("the log already holds {existing} entries; no demo history added");
        return Ok(());
    }
    let until = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now);
    // The history arrives as a platform would send it: through an ingest key of its own, which
    // every demo entry names as its source.
    let (platform, _secret) = accounts::create_key(
        &pool,
        "Demo platform",
        &[auth::Scope::Ingest],
        &Acting::cli(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let seeded = seed_events(&pool, Source::Key(platform), count, until).await?;
    eprintln!("seeded {seeded} demo entries");
    Ok(())
}

/// Appends the demo history in batches through the ordinary append path, with progress.
pub async fn seed_events(
    pool: &PgPool,
    source: Source,
    count: u64,
    until: chrono::DateTime<Utc>,
) -> Result<u64, String> {
    const BATCH: usize = 5000;
    let started = Instant::now();
    let mut done = 0u64;
    let mut events = demo::events(count, until).peekable();
    while events.peek().is_some() {
        let batch: Vec<_> = events.by_ref().take(BATCH).collect();
        let n = batch.len() as u64;
        entries::append(pool, source, batch)
            .await
            .map_err(|e| format!("append failed: {e:?}"))?;
        done += n;
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        eprint!("\rseeding {done}/{count} entries ({rate:.0}/s)   ");
        let _ = std::io::stderr().flush();
    }
    if count > 0 {
        eprintln!();
    }
    Ok(done)
}

/// `trailkeep verify-export`: 0 sound, 1 the first bad thing named, 2 could not check.
fn verify_export(file: &str, words: &[&str]) -> i32 {
    let checked = Options::new(words, &["--key", "--allow-unproven"]).and_then(|o| {
        let key = keyfile::verifier_arg(o.required("--key")?)?;
        let allow_unproven = o.flag("--allow-unproven");
        super::verify_export::verify(std::path::Path::new(file), &key, allow_unproven)
    });
    match checked {
        Ok(Ok(s)) => {
            println!(
                "ok {} entries: {} proven in the signed checkpoint of {} entries",
                s.entries, s.proven, s.checkpoint_size
            );
            if s.complete {
                println!(
                    "filter: none (every entry): complete, every entry of the checkpoint is here"
                );
            } else {
                println!(
                    "filter: {}: filtered, so completeness cannot be proven (each entry here \
                     matches it and is proven; none can show that no matching entry was left out)",
                    s.filter
                );
            }
            match (&s.period, s.period_from_filter) {
                (Some(p), true) => println!(
                    "period: {} (every entry checked against it; it follows from the filter)",
                    crate::domain::export_check::words(p)
                ),
                (Some(p), false) => println!(
                    "period: {} as the export states it (a relative range, or dates in a zone \
                     only PostgreSQL resolves: not provable from the file); every entry checked \
                     against it",
                    crate::domain::export_check::words(p)
                ),
                (None, _) => println!(
                    "not checked: the period (an export of format 2 of a relative range states \
                     none)"
                ),
            }
            if s.search_unchecked {
                println!(
                    "not checked: the filter's q= search (PostgreSQL's text search cannot be \
                     rebuilt offline); every other part of the filter was checked"
                );
            }
            if s.unhashed_sources > 0 {
                println!(
                    "not verified: source on {} entries recorded before provenance (form 1, \
                     whose hash does not cover it)",
                    s.unhashed_sources
                );
            }
            if s.unhashed_names > 0 {
                println!(
                    "not verified: source_name on {} entries (the key's current name, which no \
                     hash covers; source, the key's id, is verified)",
                    s.unhashed_names
                );
            }
            if s.newer > 0 {
                println!(
                    "not proven: {} entries were appended after that checkpoint and carry no \
                     proof (accepted with --allow-unproven); export them again after the next \
                     checkpoint to prove them",
                    s.newer
                );
            }
            0
        }
        Ok(Err(why)) => {
            println!("bad: {why}");
            1
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn key_info() -> Result<(), String> {
    let log = config::LogConfig::from_env()?;
    let key = keyfile::load_or_create(&log.key_file, log.origin.as_deref())?;
    println!("{}", key.verifier().as_str());
    Ok(())
}

/// `trailkeep verify`: exit 0 when everything it checks is sound, 1 on the first bad thing
/// (named), 2 when it could not check something it normally checks (no verifier key, an
/// unreadable memory file, a database error) unless told to skip it.
async fn verify(words: &[&str]) -> i32 {
    match verify_log(words).await {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

async fn verify_log(words: &[&str]) -> Result<bool, String> {
    use crate::service::{checkpoints, tree};
    let o = Options::new(words, &["--checkpoint", "--key", "--no-checkpoints"])?;
    let skip_checkpoints = o.flag("--no-checkpoints");
    let saved = match o.value("--checkpoint") {
        Some(path) => Some(std::fs::read(path).map_err(|e| format!("--checkpoint {path}: {e}"))?),
        None => None,
    };
    let key_file = config::LogConfig::from_env()?.key_file;
    let key = match o.value("--key") {
        Some(v) => Some(keyfile::verifier_arg(v)?),
        None => match keyfile::load(&key_file) {
            Ok(key) => Some(key.verifier().clone()),
            Err(keyfile::LoadError::Missing) => None,
            Err(keyfile::LoadError::Other(e)) => return Err(e),
        },
    };
    let pool = pool().await?;
    match entries::verify(&pool).await.map_err(|e| e.to_string())? {
        entries::Verdict::Ok { entries } => println!("ok {entries} entries"),
        entries::Verdict::Bad { seq, reason } => {
            println!("bad seq {seq}: {reason}");
            return Ok(false);
        }
    }
    match tree::verify(&pool).await.map_err(|e| e.to_string())? {
        tree::TreeVerdict::Ok { size, root } => println!(
            "ok Merkle tree of {size} entries, root {}",
            hex::encode(root)
        ),
        tree::TreeVerdict::Bad(why) => {
            println!("bad Merkle tree: {why}");
            return Ok(false);
        }
    }
    if skip_checkpoints {
        println!("checkpoints not checked (--no-checkpoints)");
        return Ok(true);
    }
    let Some(key) = key else {
        println!(
            "not checked: checkpoints, for want of the log's verifier key (give --key VKEY, set \
             TRAILKEEP_KEY_FILE, or skip them with --no-checkpoints)"
        );
        return Err("the checkpoints could not be checked".into());
    };
    match checkpoints::verify_all(&pool, &key)
        .await
        .map_err(|e| e.to_string())?
    {
        Ok(n) => println!("ok {n} checkpoints, signed by {}", key.as_str()),
        Err(why) => {
            println!("bad checkpoint: {why}");
            return Ok(false);
        }
    }
    // What was signed, kept outside the database: the only way to see a cut tail.
    let memory = checkpoints::Memory::beside(&key_file);
    let remembered = match std::fs::read(memory.path()) {
        Ok(note) => Some((memory.path().display().to_string(), note)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{}: {e}", memory.path().display())),
    };
    let outside: Vec<(String, Vec<u8>)> = saved
        .map(|note| ("the saved checkpoint".to_string(), note))
        .into_iter()
        .chain(remembered)
        .collect();
    if outside.is_empty() {
        println!(
            "note: entries cut from the end of the log, with the database's guards switched \
             off by its owner or a superuser, are detectable only against a checkpoint kept \
             outside the database: give --checkpoint FILE (a checkpoint saved earlier), or run \
             this where the signer's memory ({}) can be read",
            memory.path().display()
        );
    }
    for (what, note) in outside {
        match checkpoints::verify_saved(&pool, &key, &note)
            .await
            .map_err(|e| e.to_string())?
        {
            Ok(cp) => println!("ok the log still holds the {} entries of {what}", cp.size),
            Err(why) => {
                println!("bad ({what}): {why}");
                return Ok(false);
            }
        }
    }
    Ok(true)
}
