//! The `trailkeep` command line: the table of commands below (each option also read from its
//! `TRAILKEEP_…` environment variable where one exists), and for each a few lines that call
//! the services. `serve`'s bootstrap is `serve.rs`; the auditor's checks, whose output is for
//! people and whose exit codes scripts read, are `verify.rs`. Exit codes: 0 done, 1 a check
//! found something bad (named), 2 the command could not run (or could not check something).

mod accounts;
mod serve;
mod verify;

use std::path::PathBuf;

use app::model::Role;
use clap::{CommandFactory, Parser, Subcommand};
use sqlx::PgPool;

use super::config::{self, ConfigError};
use super::http::StateError;
use super::keyfile::{self, KeyFileError};
use super::verify_export::ReadError;
use crate::service::accounts::AccountError;
use crate::service::checkpoints::SignError;
use crate::service::tree::IntegrateError;
use crate::storage::{self, entries::AppendError, SetupError};

/// Why a command could not run (exit code 2), printed as `error: …` with its Display. A
/// wrapped error keeps its own words; the few the command line adds name what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A `TRAILKEEP_…` setting, or `DATABASE_URL` missing.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Connecting, migrating or handing the tables over.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The log's key file, or a `--key` value.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// An account or API key operation refused or failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The server's shared state (`serve`).
    #[error(transparent)]
    State(#[from] StateError),
    /// Reading the Merkle tree (`verify`).
    #[error(transparent)]
    Tree(#[from] IntegrateError),
    /// Reading or checking the checkpoints (`verify`).
    #[error(transparent)]
    Checkpoints(#[from] SignError),
    /// An export file that could not be read at all (`verify-export`).
    #[error(transparent)]
    ExportFile(#[from] ReadError),
    /// The checkpoint file given beside a CSV or NDJSON export cannot be read.
    #[error("{}: {source}", path.display())]
    CheckpointFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Leptos's settings (`LEPTOS_*`) are unusable (`serve`).
    #[error("Leptos configuration: {0}")]
    Leptos(#[source] leptos::config::errors::LeptosConfigError),
    /// The server's address cannot be bound (`serve`).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// `user create` reads the password from stdin.
    #[error("cannot read the password from stdin: {0}")]
    Stdin(#[source] std::io::Error),
    /// `key create --scope`: no scope, or an unknown one. The words are
    /// `domain::auth::parse_scopes`'s, which name the scopes there are.
    #[error("{0}")]
    Scopes(String),
    /// `seed` without `--demo`: demo data is the only kind it makes.
    #[error("only demo data can be seeded: trailkeep seed --demo")]
    SeedWithoutDemo,
    /// `seed` could not append its demo history.
    #[error("append failed: {0}")]
    Seed(#[source] AppendError),
    /// `verify --checkpoint FILE` cannot be read.
    #[error("--checkpoint {path}: {source}")]
    SavedCheckpoint {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The signer's memory beside the key file exists but cannot be read (`verify`).
    #[error("{path}: {source}")]
    Memory {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `verify` had no verifier key, so the checkpoints were not checked (its output says how
    /// to give one, or to skip them).
    #[error("the checkpoints could not be checked")]
    CheckpointsUnchecked,
}

/// Trailkeep — a tamper-evident audit log.
#[derive(Debug, Parser)]
#[command(
    name = "trailkeep",
    version,
    after_help = "Benchmarks are a separate binary, never part of this one: `trailkeep-bench` \
                  (make bench-*)."
)]
pub struct Cli {
    /// The database (postgres://user@host:port/db).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the console and the API (LEPTOS_SITE_ADDR; README "Configuration" lists the rest).
    Serve,
    /// Apply the database migrations (connect as the schema owner).
    Migrate {
        /// Then (as a superuser) give every table and function to ROLE, a NOLOGIN role created
        /// when missing, so that no login owns the log.
        #[arg(long, value_name = "ROLE")]
        owner: Option<String>,
    },
    /// Console accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Demo accounts and a 90-day history (admin@, compliance@ and member@company.com, password
    /// TRAILKEEP_DEMO_PASSWORD or trailkeep-demo).
    Seed {
        /// Demo data (the only kind `seed` makes).
        #[arg(long)]
        demo: bool,
        /// How many entries of history.
        #[arg(long, default_value = "50000", value_parser = number)]
        count: u64,
        /// Add no history when the log already holds entries.
        #[arg(long)]
        if_empty: bool,
    },
    /// Recompute every hash, the Merkle tree and every stored checkpoint; check that the log
    /// still holds what a checkpoint saved earlier (--checkpoint) and what the signer's memory
    /// beside the key file signed. Exit 1 on the first bad thing, 2 when something could not be
    /// checked.
    Verify {
        /// A checkpoint saved earlier, outside the database.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The log's verifier key (name+keyid+base64), or a file holding it (default: the
        /// key file's).
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        /// Skip the checkpoints (the entries and the tree only).
        #[arg(long)]
        no_checkpoints: bool,
        #[command(flatten)]
        key_file: KeyFile,
    },
    /// Check a JSON or NDJSON export without the database: every leaf hash, every inclusion
    /// proof, the checkpoint's signature, every entry against the stated filter and period.
    /// Exit 1 naming the first bad entry (entries newer than the checkpoint too, unless allowed).
    VerifyExport {
        /// The export.
        file: PathBuf,
        /// The log's verifier key (name+keyid+base64), or a file holding it.
        #[arg(long, value_name = "VKEY")]
        key: String,
        /// Accept entries newer than the export's checkpoint (they carry no proof).
        #[arg(long)]
        allow_unproven: bool,
        /// CSV and NDJSON: the checkpoint the export was cut against (a signed note; default:
        /// `<file>.checkpoint`, or the file's name ending in `.checkpoint`, beside it).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// CSV and NDJSON: the filter the export was made with (its query string), to check
        /// every entry against it and, for an export of everything, completeness.
        #[arg(long, value_name = "QUERY")]
        filter: Option<String>,
        /// CSV and NDJSON: how many entries the export holds (the console and the
        /// `export.downloaded` entry say), to check none was removed or added.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// An archive bundle: the schedule's bundle of the period before, to check that the two
        /// follow each other (periods, seqs and chain meet; the checkpoints are consistent).
        #[arg(long, value_name = "BUNDLE")]
        previous: Option<PathBuf>,
    },
    /// Print the log's verifier key, which auditors pin; creates the key if there is none.
    KeyInfo {
        #[command(flatten)]
        key_file: KeyFile,
    },
    /// Print a shell completion script (e.g. `trailkeep completions bash > /etc/bash_completion.d/trailkeep`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Where the log's signing key is.
#[derive(Debug, clap::Args)]
struct KeyFile {
    /// The log's key file (default: README "Configuration").
    #[arg(long = "key-file", value_name = "FILE", env = "TRAILKEEP_KEY_FILE")]
    path: Option<PathBuf>,
}

impl KeyFile {
    fn log_config(&self) -> Result<config::LogConfig, ConfigError> {
        let mut log = config::LogConfig::from_env()?;
        if let Some(path) = &self.path {
            log.key_file = path.clone();
        }
        Ok(log)
    }
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read as one line from stdin.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, compliance or member.
        #[arg(long, value_parser = role)]
        role: Role,
    },
    /// Change a user's role.
    SetRole {
        #[arg(long)]
        email: String,
        /// admin, compliance or member.
        #[arg(long, value_parser = role)]
        role: Role,
    },
    /// Forget the account's failed sign-ins (recorded in the log).
    Unlock {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create an API key (printed once).
    Create {
        #[arg(long)]
        name: String,
        /// ingest, read, admin or import (sends a history of past events: its entries are
        /// expected to be recorded late), or several: ingest,read.
        #[arg(long)]
        scope: String,
    },
    /// Revoke an API key.
    Revoke {
        /// The key's id or prefix.
        id: String,
    },
}

fn role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?} (admin, compliance, member)"))
}

/// A count; `1_000_000` reads as a million.
fn number(s: &str) -> Result<u64, String> {
    s.replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))
}

/// Runs the command line (`args` without the program's name); returns the exit code.
pub async fn run(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("trailkeep".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and the version go to stdout with 0; a wrong command line to stderr with 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let url = cli.database_url;
    let outcome = match cli.command {
        Command::Serve => serve::serve(url).await,
        Command::Migrate { owner } => migrate(url, owner).await,
        Command::User(c) => accounts::user(url, c).await,
        Command::Key(c) => accounts::key(url, c).await,
        Command::Seed {
            demo,
            count,
            if_empty,
        } => accounts::seed(url, demo, count, if_empty).await,
        Command::Verify {
            checkpoint,
            key,
            no_checkpoints,
            key_file,
        } => return verify::verify(url, checkpoint, key, no_checkpoints, key_file).await,
        Command::VerifyExport {
            file,
            key,
            allow_unproven,
            checkpoint,
            filter,
            count,
            previous,
        } => {
            if previous.is_some() || crate::service::bundle_file::is_bundle(&file).unwrap_or(false)
            {
                return verify::verify_bundle(&file, previous.as_deref(), &key);
            }
            return verify::verify_export(
                &file,
                &key,
                allow_unproven,
                verify::Stated {
                    checkpoint,
                    filter,
                    count,
                },
            );
        }
        Command::KeyInfo { key_file } => key_info(key_file),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "trailkeep",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// The database URL given, or why there is none.
fn database_url(url: Option<String>) -> Result<String, ConfigError> {
    url.map(Ok).unwrap_or_else(config::database_url)
}

/// `url` as connection options (the URL itself is never repeated in an error).
fn connect_options(url: Option<String>) -> Result<sqlx::postgres::PgConnectOptions, CliError> {
    Ok(database_url(url)?
        .parse::<sqlx::postgres::PgConnectOptions>()
        .map_err(SetupError::Url)?)
}

/// A pool for a command: as the server's writer role, and without sqlx's slow-statement
/// warnings (SQL text is not for the person at the terminal).
async fn pool(url: Option<String>) -> Result<PgPool, CliError> {
    use sqlx::ConnectOptions;
    let options =
        connect_options(url)?.log_slow_statements(log::LevelFilter::Off, std::time::Duration::ZERO);
    Ok(storage::connect_with(options, 8).await?)
}

async fn migrate(url: Option<String>, owner: Option<String>) -> Result<(), CliError> {
    let pool = storage::connect_owner(&database_url(url)?).await?;
    storage::migrate(&pool).await?;
    tracing::info!("migrations applied");
    if let Some(role) = owner {
        storage::hand_over(&pool, &role).await?;
        tracing::info!(role, "the tables and functions now belong to {role}");
    }
    Ok(())
}

fn key_info(key_file: KeyFile) -> Result<(), CliError> {
    let log = key_file.log_config()?;
    let key = keyfile::load_or_create(&log.key_file, log.origin.as_deref())?;
    println!("{}", key.verifier().as_str());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_table_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_answers_help() {
        for args in [
            vec!["user", "create", "--help"],
            vec!["verify", "--help"],
            vec!["verify-export", "--help"],
            vec!["key", "revoke", "--help"],
            vec!["--version"],
        ] {
            let e =
                Cli::try_parse_from(std::iter::once("trailkeep").chain(args.clone())).unwrap_err();
            assert_eq!(e.exit_code(), 0, "{args:?}: {e}");
        }
        let e = Cli::try_parse_from(["trailkeep", "user", "create", "--email", "a@b"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
