//! `trailkeep-bench` (a binary of its own, `--features bench`) refuses a database that holds a
//! log it did not make, before writing anything; it runs on an empty database, marks it, and
//! runs again on it; `--i-know` overrides.
#![cfg(feature = "bench")]

mod common;

use chrono::Utc;
use sqlx::PgPool;
use trailkeep::{
    service::demo,
    storage::{self, entries},
};

fn bench(url: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailkeep-bench"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("the bench binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_log_no_benchmark_made_is_refused(pool: PgPool) {
    let url = common::url_of(&pool).await;
    let owner = storage::connect_with((*pool.connect_options()).clone(), 2)
        .await
        .unwrap();
    entries::append(
        &owner,
        app::model::Source::Trailkeep,
        demo::events(25, Utc::now()).collect(),
    )
    .await
    .unwrap();
    let (ok, text) = bench(&url, &["query", "--entries", "10"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("holds 25 entries") && text.contains("--i-know"),
        "{text}"
    );
    // Nothing was written: no mark, no new entry.
    assert_eq!(
        storage::scratch::inspect(&owner).await.unwrap(),
        (false, 25)
    );

    let (ok, text) = bench(&url, &["query", "--entries", "25", "--i-know"]);
    assert!(ok, "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_empty_database_becomes_the_benchmarks_own(pool: PgPool) {
    let url = common::url_of(&pool).await;
    let (ok, text) = bench(&url, &["query", "--entries", "50"]);
    assert!(ok, "{text}");
    let (marked, n) = storage::scratch::inspect(&pool).await.unwrap();
    assert!(marked && n >= 50, "{marked} {n}");
    // Marked: the next run (on the kept, seeded database) is allowed.
    let (ok, text) = bench(&url, &["query", "--entries", "50"]);
    assert!(ok, "{text}");
}
