//! `trailkeep bench ingest`: the ingest rate through the API (batches of 500) and through
//! `seed`, each as a ratio to a raw `COPY` of the same rows into a table of the same shape,
//! all in one run. Point DATABASE_URL at a scratch database: the command migrates it and
//! fills it.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use chrono::{DateTime, Utc};
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{cli::Options, config, http};
use crate::{
    domain::{
        accounts::{self, Acting},
        auth::Scope,
        demo,
    },
    storage::{self, entries},
};

pub async fn ingest(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--events", "--clients"])?;
    let n = o.number("--events", 100_000)?;
    let clients = o.number("--clients", 4)?.max(1);
    let url = config::database_url()?;
    let owner = storage::connect_owner(&url).await?;
    storage::migrate(&owner).await?;
    if entries::count_all(&owner)
        .await
        .map_err(|e| e.to_string())?
        > 0
    {
        return Err("the benchmark needs an empty scratch database".into());
    }
    let writer = storage::connect(&url, 16).await?;
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
    super::cli::seed_events(&writer, n, until).await?;
    let seed_secs = started.elapsed().as_secs_f64();

    let verdict = entries::verify(&writer).await.map_err(|e| e.to_string())?;
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
    let mut head = crate::domain::chain::GENESIS;
    for (seq, event) in demo::events(n, until).enumerate() {
        let r = event.into_record(seq as i64, uuid::Uuid::new_v4(), until);
        let leaf = r.leaf_hash();
        head = crate::domain::chain::chain_hash(&head, &leaf);
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
             leaf_hash, chain_hash) FROM STDIN (FORMAT csv)",
        )
        .await
        .map_err(|e| e.to_string())?;
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await.map_err(|e| e.to_string())?;
    }
    copy.finish().await.map_err(|e| e.to_string())?;
    Ok(started.elapsed().as_secs_f64())
}

async fn through_api(
    pool: &PgPool,
    key: &str,
    n: u64,
    until: DateTime<Utc>,
    clients: usize,
) -> Result<f64, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state = http::AppState::new(
        pool.clone(),
        LeptosOptions::builder().output_name("trailkeep").build(),
        config::Config::default(),
    )
    .await?;
    let app = http::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    // Bodies are prepared up front: the clock measures the server, not the client's JSON.
    let bodies: Vec<String> = demo::events(n, until)
        .map(|e| {
            serde_json::json!({
                "action": e.action,
                "actor": {"id": e.actor_id, "name": e.actor_name, "email": e.actor_email, "type": e.actor_type},
                "resource": e.resource.map(|(t, i)| serde_json::json!({"type": t, "id": i})),
                "ip": e.ip.map(|ip| ip.to_string()),
                "user_agent": e.user_agent,
                "status": e.status,
                "occurred_at": e.occurred_at.map(|t| t.to_rfc3339()),
                "details": e.details,
            })
        })
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
