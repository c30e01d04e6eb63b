//! `trailkeep user …`, `key …` and `seed`: accounts, API keys and demo data, each change
//! recorded in the log by the command line (`Acting::cli`).

use std::io::Write;

use app::model::{Role, Source};
use chrono::{Timelike, Utc};

use super::{pool, CliError, KeyCommand, UserCommand};
use crate::domain::auth;
use crate::service::accounts::{self, Acting};
use crate::service::demo;
use crate::storage::{self, entries};

pub async fn user(url: Option<String>, command: UserCommand) -> Result<(), CliError> {
    let pool = pool(url).await?;
    match command {
        UserCommand::Create { email, name, role } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(CliError::Stdin)?;
            let password = password.trim_end_matches(['\n', '\r']);
            let id =
                accounts::create_user(&pool, &email, &name, role, password, &Acting::cli()).await?;
            println!("created user {email} ({}) id {id}", role.as_str());
        }
        UserCommand::SetRole { email, role } => {
            accounts::set_role(&pool, &email, role, &Acting::cli()).await?;
            println!("role set to {}", role.as_str());
        }
        UserCommand::Unlock { email } => {
            let n = accounts::unlock(&pool, &email, &Acting::cli()).await?;
            println!("unlocked {email}: {n} failed sign-ins forgotten");
        }
    }
    Ok(())
}

pub async fn key(url: Option<String>, command: KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::Create { name, scope } => {
            let scopes = auth::parse_scopes(&scope).map_err(CliError::Scopes)?;
            let pool = pool(url).await?;
            let (id, key) = accounts::create_key(&pool, &name, &scopes, &Acting::cli()).await?;
            eprintln!("created key {id}; it is shown once, store it now:");
            println!("{key}");
        }
        KeyCommand::Revoke { id } => {
            let pool = pool(url).await?;
            let key = accounts::revoke_key(&pool, &id, &Acting::cli()).await?;
            println!("revoked key {} ({})", key.prefix, key.name);
        }
    }
    Ok(())
}

pub const DEMO_PASSWORD_DEFAULT: &str = "trailkeep-demo";

pub async fn seed(
    url: Option<String>,
    demo_data: bool,
    count: u64,
    if_empty: bool,
) -> Result<(), CliError> {
    if !demo_data {
        return Err(CliError::SeedWithoutDemo);
    }
    let pool = pool(url).await?;
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
        if !storage::users::exists(&pool, email).await? {
            accounts::create_user(&pool, email, name, role, &password, &Acting::cli()).await?;
        }
    }
    let existing = entries::count_all(&pool).await?;
    if if_empty && existing > 10 {
        eprintln!("the log already holds {existing} entries; no demo history added");
        return Ok(());
    }
    let until = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now);
    // The history arrives as a platform connecting Trailkeep would send its past: through a
    // key of its own that imports history, which every demo entry names as its source. Its
    // entries are recorded now, after they occurred (the database's clock records, and never
    // goes back), and the console says "Imported history" for them, keeping the warning for
    // entries sent late through ordinary ingest keys.
    let (platform, _secret) = accounts::create_key(
        &pool,
        "Demo platform",
        &[auth::Scope::Import],
        &Acting::cli(),
    )
    .await?;
    let seeded = demo::seed_events(&pool, Source::Key(platform), count, until, |done, rate| {
        eprint!("\rseeding {done}/{count} entries ({rate:.0}/s)   ");
        let _ = std::io::stderr().flush();
    })
    .await
    .map_err(CliError::Seed)?;
    if count > 0 {
        eprintln!();
    }
    eprintln!("seeded {seeded} demo entries");
    Ok(())
}
