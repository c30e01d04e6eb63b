//! Timings that used to be thresholds in tests (issue 23, item 11). A test asserts the
//! behaviour (a request is answered while sign-ins are queued; an abandoned PDF is recorded as
//! not completed); how fast, on this machine, is measured here, each as a ratio to a baseline
//! measured in the same command.
//!
//! - `sign-in`: `/healthz` over loopback HTTP while 64 failed sign-ins queue for the password
//!   checks, against `/healthz` idle; and another account's sign-in while guesses on one
//!   account wait for their spaced-out turn, against the same sign-in with no guesses.
//! - `export-abandon`: a PDF export whose client goes away after the response head, from the
//!   request to its `export.downloaded` record (not completed), against the whole report of
//!   the same entries.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::options::Options;
use trailkeep::domain::auth::Scope;
use trailkeep::infra::config;
use trailkeep::service::accounts::{self, Acting, SignIn, SignInLimits};
use trailkeep::storage;

const PASSWORD: &str = "a benchmark's password";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One `GET` on a connection of its own, read to its end: the time it took.
async fn get(addr: SocketAddr, path: &str) -> Result<Duration, String> {
    let started = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).await.map_err(|e| e.to_string())?;
    if !reply.starts_with(b"HTTP/1.1 200") {
        return Err(format!("{path}: {}", String::from_utf8_lossy(&reply)));
    }
    Ok(started.elapsed())
}

async fn attempt(
    pool: &PgPool,
    email: &str,
    password: &str,
    from: IpAddr,
    limits: SignInLimits,
) -> Result<SignIn, String> {
    accounts::sign_in(pool, email, password, Some(from), None, limits)
        .await
        .map_err(|e| e.to_string())
}

pub async fn sign_in(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--burst", "--rounds"])?;
    let burst = o.number("--burst", 64)? as usize;
    let rounds = o.number("--rounds", 5)?.max(1) as usize;
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    let pool = storage::connect(&url, 16)
        .await
        .map_err(|e| e.to_string())?;
    let addr = crate::throughput::serve_here(&pool).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();

    // 1. /healthz idle (baseline), then while a burst of failed sign-ins is under way.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(get(addr, "/healthz").await?);
    }
    let mut during = Vec::new();
    let mut pending_after = Vec::new();
    for round in 0..rounds {
        let tasks: Vec<_> = (0..burst)
            .map(|i| {
                let pool = pool.clone();
                let email = format!("nobody-{run}-{round}-{i}@example.com");
                // Each from an address of its own: the address throttle is not what is measured.
                let from =
                    IpAddr::from([10, (round % 250) as u8, (i / 250) as u8, (i % 250) as u8]);
                tokio::spawn(async move {
                    attempt(&pool, &email, "wrong", from, SignInLimits::default()).await
                })
            })
            .collect();
        while !tasks.iter().any(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for _ in 0..10 {
            during.push(get(addr, "/healthz").await?);
        }
        pending_after.push(tasks.iter().filter(|t| !t.is_finished()).count());
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
    }
    let (idle_ms, during_ms) = (ms(median(idle)), ms(median(during.clone())));
    println!("/healthz over loopback HTTP, {rounds} bursts of {burst} failed sign-ins");
    println!("| /healthz | median ms | slowest ms | ratio to idle |");
    println!("| --- | ---: | ---: | ---: |");
    println!("| idle (baseline, 50 requests) | {idle_ms:.2} | | 1.00 |");
    println!(
        "| during a burst ({} requests; sign-ins still queued after them: {pending_after:?}) | {during_ms:.2} | {:.2} | {:.2} |",
        during.len(),
        ms(*during.iter().max().unwrap()),
        during_ms / idle_ms
    );

    // 2. Another account's sign-in alone (baseline), then while guesses queue on a victim.
    let victim = format!("victim-{run}@example.com");
    let other = format!("other-{run}@example.com");
    for email in [&victim, &other] {
        accounts::create_user(
            &pool,
            email,
            "Bench",
            app::model::Role::Member,
            PASSWORD,
            &Acting::cli(),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let limits = SignInLimits {
        slow_after: 2,
        ..SignInLimits::default()
    };
    let here: IpAddr = [192, 0, 2, 9].into();
    let mut alone = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let o = attempt(&pool, &other, PASSWORD, here, limits).await?;
        alone.push(started.elapsed());
        if !matches!(o, SignIn::Ok { .. }) {
            return Err("the other account did not sign in".into());
        }
    }
    for i in 0..2 {
        attempt(
            &pool,
            &victim,
            "guess",
            IpAddr::from([10, 200, 0, i]),
            limits,
        )
        .await?;
    }
    let mut queued = Vec::new();
    for round in 0..rounds {
        let guesses: Vec<_> = (0..8u8)
            .map(|i| {
                let (pool, victim) = (pool.clone(), victim.clone());
                let from = IpAddr::from([10, 201, round as u8, i]);
                tokio::spawn(async move { attempt(&pool, &victim, "guess", from, limits).await })
            })
            .collect();
        // The same head start the test gives the guesses to reach their wait.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let o = attempt(&pool, &other, PASSWORD, here, limits).await?;
        queued.push(started.elapsed());
        if !matches!(o, SignIn::Ok { .. }) {
            return Err("the other account did not sign in".into());
        }
        for g in guesses {
            g.await.map_err(|e| e.to_string())??;
        }
    }
    let (alone_ms, queued_ms) = (ms(median(alone)), ms(median(queued.clone())));
    println!();
    println!("another account's sign-in (Argon2id), {rounds} each");
    println!("| sign-in | median ms | slowest ms | ratio to alone |");
    println!("| --- | ---: | ---: | ---: |");
    println!("| alone (baseline) | {alone_ms:.1} | | 1.00 |");
    println!(
        "| while 8 guesses wait their turn on one account | {queued_ms:.1} | {:.1} | {:.2} |",
        ms(*queued.iter().max().unwrap()),
        queued_ms / alone_ms
    );
    Ok(())
}

pub async fn export_abandon(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--entries", "--rounds"])?;
    let n = o.number("--entries", 20_000)? as i64;
    let rounds = o.number("--rounds", 3)?.max(1) as usize;
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    crate::throughput::seed_if_empty(&owner, n).await?;
    let pool = storage::connect(&url, 8).await.map_err(|e| e.to_string())?;
    let (_, key) = accounts::create_key(&pool, "bench", &[Scope::Read], &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    let addr = crate::throughput::serve_here(&pool).await?;

    let mut whole = Vec::new();
    let mut abandoned = Vec::new();
    for _ in 0..rounds {
        let (secs, _, _, _) = crate::export::download(addr, &key, "pdf", "").await?;
        whole.push(Duration::from_secs_f64(secs));
        let after = storage::live::head_seq(&pool)
            .await
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(
            format!(
                "GET /api/v1/events/export?format=pdf HTTP/1.1\r\nHost: {addr}\r\n\
                 Authorization: Bearer {key}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.map_err(|e| e.to_string())?;
        drop(s);
        let completed: bool = loop {
            let recorded: Option<bool> = sqlx::query_scalar(
                "SELECT (details->>'completed')::boolean FROM audit_entries \
                 WHERE seq > $1 AND action = 'export.downloaded' ORDER BY seq LIMIT 1",
            )
            .bind(after)
            .fetch_optional(&pool)
            .await
            .map_err(|e| e.to_string())?;
            if let Some(completed) = recorded {
                break completed;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        abandoned.push(started.elapsed());
        if completed {
            return Err("the abandoned export was recorded as completed".into());
        }
    }
    let (whole_ms, abandoned_ms) = (ms(median(whole)), ms(median(abandoned.clone())));
    println!("PDF export of {n} entries over loopback HTTP, {rounds} rounds");
    println!("| PDF | median ms | slowest ms | ratio to the whole report |");
    println!("| --- | ---: | ---: | ---: |");
    println!("| whole report, read to its end (baseline) | {whole_ms:.0} | | 1.00 |");
    println!(
        "| client gone after the head: request → recorded not completed | {abandoned_ms:.0} | {:.0} | {:.3} |",
        ms(*abandoned.iter().max().unwrap()),
        abandoned_ms / whole_ms
    );
    Ok(())
}
