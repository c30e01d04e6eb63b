//! `trailkeep-bench ingest`: the ingest rate through the API (batches of 500) and through
//! `seed`, each as a ratio to a raw `COPY` of the same rows into a table of the same shape,
//! all in one run. Point DATABASE_URL at a scratch database: the command migrates it and
//! fills it.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use chrono::{DateTime, Utc};
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::options::Options;
use trailkeep::infra::{config, http};
use trailkeep::{
    domain::auth::Scope,
    service::accounts::{self, Acting},
    service::demo,
    storage::{self, entries},
};

/// Serves the console and API from this process on a loopback port: benchmarks measure the
/// real HTTP path.
pub(crate) async fn serve_here(pool: &PgPool) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let options = LeptosOptions::builder()
        .output_name("trailkeep")
        .site_root("target/site")
        .build();
    let state = http::AppState::new(
        pool.clone(),
        pool.clone(),
        options,
        config::Config::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let app = http::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr)
}

/// Seeds `n` demo entries, as [`seed_if_empty`], recorded over `months` monthly partitions:
/// the current month and the ones after it (an append records at the later of the clock and
/// the chain head's `last_recorded_at`, which the owner moves a month forward each `n /
/// months` entries, as the tests do), so the log is laid out as one recorded over that many
/// months. The entries are the demo history `seed` writes; only `recorded_at` differs.
pub(crate) async fn seed_spread_if_empty(
    owner: &PgPool,
    n: i64,
    months: i64,
) -> Result<i64, String> {
    let have = entries::count_all(owner).await.map_err(|e| e.to_string())?;
    if have != 0 {
        return Ok(have);
    }
    let db = |e: sqlx::Error| e.to_string();
    let start: DateTime<Utc> = sqlx::query_scalar("SELECT date_trunc('month', now())")
        .fetch_one(owner)
        .await
        .map_err(db)?;
    let month = |k: i64| start + chrono::Months::new(k as u32);
    sqlx::query("SELECT audit_entries_add_partitions(now(), $1)")
        .bind(month(months + 1))
        .execute(owner)
        .await
        .map_err(db)?;
    const BATCH: usize = 5000;
    let mut events = trailkeep::service::demo::events(n as u64, Utc::now()).peekable();
    let (mut done, mut k) = (0i64, 0i64);
    let started = Instant::now();
    while events.peek().is_some() {
        // The month this batch is recorded in: the k-th of n / months entries each.
        let due = done * months / n;
        if due > k || (k == 0 && done == 0) {
            k = due;
            let at = month(k) + chrono::Duration::hours(1);
            sqlx::query("UPDATE chain_head SET last_recorded_at = greatest(last_recorded_at, $1)")
                .bind(at)
                .execute(owner)
                .await
                .map_err(db)?;
        }
        let batch: Vec<_> = events.by_ref().take(BATCH).collect();
        done += batch.len() as i64;
        entries::append(owner, app::model::Source::Trailkeep, batch)
            .await
            .map_err(|e| e.to_string())?;
        if done % 500_000 < BATCH as i64 {
            eprintln!(
                "seeded {done} of {n} ({:.0}/s), month {}",
                done as f64 / started.elapsed().as_secs_f64(),
                k + 1
            );
        }
    }
    sqlx::query("VACUUM ANALYZE audit_entries")
        .execute(owner)
        .await
        .map_err(db)?;
    Ok(0)
}

/// Seeds `n` demo entries into an empty (dedicated) database and analyses it; returns how
/// many entries it held before (0 when it seeded).
pub(crate) async fn seed_if_empty(owner: &PgPool, n: i64) -> Result<i64, String> {
    let have = entries::count_all(owner).await.map_err(|e| e.to_string())?;
    if have == 0 {
        trailkeep::service::demo::seed_events(
            owner,
            app::model::Source::Trailkeep,
            n as u64,
            Utc::now(),
            |_, _| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query("VACUUM ANALYZE audit_entries")
            .execute(owner)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(have)
}

pub async fn ingest(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--events", "--clients"])?;
    let n = o.number("--events", 100_000)?;
    let clients = o.number("--clients", 4)?.max(1);
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    if entries::count_all(&owner)
        .await
        .map_err(|e| e.to_string())?
        > 0
    {
        return Err("the benchmark needs an empty scratch database".into());
    }
    let writer = storage::connect(&url, 16)
        .await
        .map_err(|e| e.to_string())?;
    let until = Utc::now();

    // 1. Raw COPY of the same rows (with hashes) into a plain table of the same shape.
    let copy_secs = raw_copy(&owner, n, until).await?;

    // 2. Through the HTTP API, batches of 500, `clients` connections in parallel.
    let (_, key) = accounts::create_key(&writer, "bench", &[Scope::Ingest], &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    let api_secs = through_api(&writer, &key, n, until, clients as usize).await?;

    // 3. Through `seed`'s path: batches of 5000 straight into the append function.
    let started = Instant::now();
    trailkeep::service::demo::seed_events(
        &writer,
        app::model::Source::Trailkeep,
        n,
        until,
        |_, _| {},
    )
    .await
    .map_err(|e| e.to_string())?;
    let seed_secs = started.elapsed().as_secs_f64();

    let verdict = trailkeep::service::chain::verify(&writer)
        .await
        .map_err(|e| e.to_string())?;
    let rate = |secs: f64| n as f64 / secs;
    println!("rows per path: {n}; API clients: {clients}");
    println!("| path | seconds | rows/s | ratio to COPY |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| raw COPY (baseline) | {copy_secs:.2} | {:.0} | 1.00 |",
        rate(copy_secs)
    );
    println!(
        "| API, batches of 500 | {api_secs:.2} | {:.0} | {:.2} |",
        rate(api_secs),
        copy_secs / api_secs
    );
    println!(
        "| seed, batches of 5000 | {seed_secs:.2} | {:.0} | {:.2} |",
        rate(seed_secs),
        copy_secs / seed_secs
    );
    println!("verify after the run: {verdict:?}");
    Ok(())
}

async fn raw_copy(owner: &PgPool, n: u64, until: DateTime<Utc>) -> Result<f64, String> {
    sqlx::query(
        "CREATE TABLE bench_copy (LIKE audit_entries INCLUDING DEFAULTS INCLUDING GENERATED \
         INCLUDING CONSTRAINTS INCLUDING INDEXES)",
    )
    .execute(owner)
    .await
    .map_err(|e| e.to_string())?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut head = trailkeep::domain::entry::chain::GENESIS;
    for (seq, event) in demo::events(n, until).enumerate() {
        let r = event.into_record(
            seq as i64,
            uuid::Uuid::new_v4(),
            until,
            app::model::Source::Trailkeep,
        );
        let leaf = r.leaf_hash();
        head = trailkeep::domain::entry::chain::chain_hash(&head, &leaf);
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        out.write_record([
            r.seq.to_string(),
            r.id.to_string(),
            r.occurred_at.to_rfc3339(),
            r.recorded_at.to_rfc3339(),
            r.actor_type.as_str().to_string(),
            r.actor_id.clone(),
            opt(&r.actor_name),
            opt(&r.actor_email),
            r.action.clone(),
            opt(&r.resource_type),
            opt(&r.resource_id),
            r.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            opt(&r.user_agent),
            r.status.as_str().to_string(),
            r.details.to_string(),
            r.form.number().to_string(),
            r.source.map(|s| s.to_string()).unwrap_or_default(),
            format!("\\x{}", hex::encode(leaf)),
            format!("\\x{}", hex::encode(head)),
        ])
        .map_err(|e| e.to_string())?;
    }
    let data = out.into_inner().map_err(|e| e.to_string())?;
    let mut conn = owner.acquire().await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(
            "COPY bench_copy (seq, id, occurred_at, recorded_at, actor_type, actor_id, actor_name, \
             actor_email, action, resource_type, resource_id, ip, user_agent, status, details, \
             form, source, leaf_hash, chain_hash) FROM STDIN (FORMAT csv)",
        )
        .await
        .map_err(|e| e.to_string())?;
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await.map_err(|e| e.to_string())?;
    }
    copy.finish().await.map_err(|e| e.to_string())?;
    Ok(started.elapsed().as_secs_f64())
}

pub(crate) async fn through_api(
    pool: &PgPool,
    key: &str,
    n: u64,
    until: DateTime<Utc>,
    clients: usize,
) -> Result<f64, String> {
    let addr = serve_here(pool).await?;
    // Bodies are prepared up front: the clock measures the server, not the client's JSON.
    let bodies: Vec<String> = demo::events(n, until)
        .map(|e| e.to_input())
        .collect::<Vec<_>>()
        .chunks(500)
        .map(|batch| serde_json::Value::Array(batch.to_vec()).to_string())
        .collect();
    let bodies = Arc::new(bodies);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let bodies = bodies.clone();
        let key = key.to_string();
        tasks.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            for body in bodies.iter().skip(c).step_by(clients) {
                let status = post(&mut stream, &addr, &key, body).await?;
                if status != 201 {
                    return Err(format!("ingest answered {status}"));
                }
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// A minimal HTTP/1.1 keep-alive POST; returns the status code.
async fn post(
    stream: &mut tokio::net::TcpStream,
    addr: &SocketAddr,
    key: &str,
    body: &str,
) -> Result<u16, String> {
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(body.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            return Ok(status);
        }
    }
}

/// `trailkeep-bench query --entries N`: p50/p95 of the first page of 50 for the issue's list
/// of questions, on a database holding N demo entries (seeded on first use, kept after).
pub async fn query(words: &[&str]) -> Result<(), String> {
    use app::filter::Filter;
    use trailkeep::storage::query as q;

    let o = Options::new(
        words,
        &[
            "--entries",
            "--runs",
            "--chart-only",
            "--top-only",
            "--months",
        ],
    )?;
    let n = o.number("--entries", 100_000)? as i64;
    let months = o.number("--months", 1)?.max(1) as i64;
    let chart_only = words.contains(&"--chart-only");
    let top_only = words.contains(&"--top-only");
    let runs = o.number("--runs", 60)?.max(5) as usize;
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    let have = if months > 1 {
        seed_spread_if_empty(&owner, n, months).await?
    } else {
        seed_if_empty(&owner, n).await?
    };
    let layout: Vec<(String, i64)> = sqlx::query_as(
        "SELECT to_char(date_trunc('month', recorded_at), 'YYYY-MM'), count(*) FROM audit_entries \
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&owner)
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "recorded by month: {}",
        layout
            .iter()
            .map(|(m, c)| format!("{m} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if have != 0 && have != n {
        return Err(format!(
            "the database holds {have} entries, not {n}: use a fresh one"
        ));
    }
    let pool = storage::connect(&url, 4).await.map_err(|e| e.to_string())?;
    let until: DateTime<Utc> = sqlx::query_scalar("SELECT max(occurred_at) FROM audit_entries")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let rare: String = sqlx::query_scalar(
        "SELECT details->'request'->>'request_id' FROM audit_entries WHERE seq >= $1 AND details ? 'request' ORDER BY seq LIMIT 1",
    )
    .bind(n / 2)
    .fetch_one(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let day = |d: DateTime<Utc>| d.format("%Y-%m-%d").to_string();
    let window_start = until - chrono::Duration::days(30);
    let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cases: Vec<(&str, String)> = vec![
        ("no filter", String::new()),
        ("one user", "user=admin@company.com".into()),
        ("action=config.* + 7d", "action=config.*&range=7d".into()),
        (
            "failed logins",
            "action=user.login_failed&status=failure".into(),
        ),
        ("resource id", "resource=cfg_7".into()),
        (
            "a date range a year back",
            format!(
                "from={}&to={}",
                day(until - chrono::Duration::days(395)),
                day(until - chrono::Duration::days(365))
            ),
        ),
        ("q, rare term", format!("q={rare}")),
        ("q, common term", "q=production".into()),
        ("q, two words in different fields", "q=grace totp".into()),
        ("q, quoted phrase", "q=%22Linux%20x86_64%22".into()),
        (
            "order=asc over 1 hour",
            format!(
                "from={}&order=asc&to={}",
                iso(window_start),
                iso(window_start + chrono::Duration::hours(1))
            ),
        ),
    ];
    if top_only {
        return crate::investigation::top_values_against_no_memo(&pool, &cases).await;
    }
    println!("entries: {n}; first page of 50; {runs} timed runs after 5 warm-up runs (hot cache)");
    println!("| query | rows on page | p50 ms | p95 ms |");
    println!("| --- | ---: | ---: | ---: |");
    let mut slowest: Option<(
        f64,
        String,
        Option<trailkeep::domain::query::cursor::Cursor>,
    )> = None;
    let mut time_case = |name: &str, query: &str, timings: &mut Vec<f64>, rows: usize, cursor| {
        timings.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p50 = timings[timings.len() / 2];
        let p95 = timings[(timings.len() * 95 / 100).min(timings.len() - 1)];
        println!("| {name} (`{query}`) | {rows} | {p50:.2} | {p95:.2} |");
        if slowest.as_ref().is_none_or(|(p, _, _)| p95 > *p) {
            slowest = Some((p95, query.to_string(), cursor));
        }
    };
    for (name, query) in &cases {
        let filter = Filter::parse(query).map_err(|e| e.to_string())?;
        let (mut timings, rows) = first_pages(&pool, &filter, None, runs).await?;
        time_case(name, query, &mut timings, rows, None);
    }
    // The last page of a 10,000-entry result, reached by cursor.
    let query = "action=config.updated";
    let filter = Filter::parse(query).map_err(|e| e.to_string())?;
    let mut cursor = None;
    for _ in 0..199 {
        cursor = q::page(&pool, &filter, 50, cursor)
            .await
            .map_err(|e| format!("{e:?}"))?
            .next;
    }
    let (mut timings, rows) = first_pages(&pool, &filter, cursor, runs).await?;
    time_case(
        "page 200 of 50 by cursor",
        query,
        &mut timings,
        rows,
        cursor,
    );

    crate::investigation::console_reads(&pool, &cases, runs.min(10), chart_only).await?;

    let (table, indexes): (i64, i64) =
        // A partitioned table's own sizes are 0: its partitions hold the rows and indexes.
        sqlx::query_as(
            "SELECT sum(pg_table_size(r))::bigint, sum(pg_indexes_size(r))::bigint FROM \
             (SELECT 'audit_entries'::regclass AS r UNION ALL SELECT inhrelid FROM pg_inherits \
              WHERE inhparent = 'audit_entries'::regclass) AS relations",
        )
            .fetch_one(&pool)
            .await
            .map_err(|e| e.to_string())?;
    let per_million = |bytes: i64| bytes as f64 / (n as f64 / 1e6) / 1024.0 / 1024.0;
    println!(
        "\ntable {:.0} MiB, indexes {:.0} MiB; per million entries: table {:.0} MiB, indexes {:.0} MiB",
        table as f64 / 1048576.0,
        indexes as f64 / 1048576.0,
        per_million(table),
        per_million(indexes)
    );
    if let Some((p95, query, cursor)) = slowest {
        let filter = Filter::parse(&query).map_err(|e| e.to_string())?;
        println!("\nslowest (p95 {p95:.2} ms): `{query}`\n```");
        for line in q::explain_page(&pool, &filter, 50, cursor)
            .await
            .map_err(|e| format!("{e:?}"))?
        {
            println!("{line}");
        }
        println!("```");
    }
    Ok(())
}

/// Times `runs` fetches of one page of 50 (after 5 warm-up fetches): milliseconds, and how many
/// rows the page held.
async fn first_pages(
    pool: &PgPool,
    filter: &app::filter::Filter,
    cursor: Option<trailkeep::domain::query::cursor::Cursor>,
    runs: usize,
) -> Result<(Vec<f64>, usize), String> {
    let mut timings = Vec::with_capacity(runs);
    let mut rows = 0;
    for i in 0..runs + 5 {
        let started = Instant::now();
        let page = trailkeep::storage::query::page(pool, filter, 50, cursor)
            .await
            .map_err(|e| format!("{e:?}"))?;
        if i >= 5 {
            timings.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        rows = page.entries.len();
    }
    Ok((timings, rows))
}
