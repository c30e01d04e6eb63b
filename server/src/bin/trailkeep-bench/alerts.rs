//! `trailkeep-bench alerts`: what alerting costs and how quickly it notifies, in one run on a
//! scratch database (DATABASE_URL):
//! 1. ingest through the API (batches of 500, 4 clients) with no rule (the baseline) and
//!    with 100 active rules and the evaluator running in this process, in the order none,
//!    rules, rules, none (the log grows with each run): the ratio (issue 27's target: at most
//!    10% lower);
//! 2. commit → webhook received on loopback: an every-match rule (no batching) notifying a
//!    receiver in this process; events sent one at a time; from the 201 to the request's
//!    arrival, p50 and p95;
//! 3. catch-up: the evaluator stopped while entries are appended, then started with the 100
//!    rules: entries evaluated per second until its cursor reaches the head.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::alerts::{AlertRuleSpec, ChannelSpec};
use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::options::Options;
use crate::throughput::{serve_here, through_api};
use trailkeep::domain::auth::Scope;
use trailkeep::domain::outbound::Policy;
use trailkeep::domain::sealed::SealKey;
use trailkeep::infra::config;
use trailkeep::service::accounts::{self, Acting};
use trailkeep::service::alerts::{channels, deliverer, evaluator, rules};
use trailkeep::service::outbound::Outbound;
use trailkeep::storage::{self, entries};

const ACTIONS: &[&str] = &[
    "user.login",
    "user.logout",
    "user.login_failed",
    "config.updated",
    "config.deployed",
    "key.created",
    "key.rotated",
    "export.downloaded",
    "escalation.created",
    "kb.uploaded",
];

fn spec(i: usize, channels: Vec<Uuid>) -> AlertRuleSpec {
    let action = ACTIONS[i % ACTIONS.len()];
    let base = AlertRuleSpec {
        name: format!("bench rule {i}"),
        severity: "warning".into(),
        filter: format!("action={action}"),
        condition: "threshold".into(),
        batch_secs: None,
        at_least: None,
        window_secs: None,
        group_by: None,
        pending_secs: None,
        cooldown_secs: None,
        enabled: true,
        channels,
    };
    match i % 5 {
        // Thresholds, grouped three ways; a search; an absence.
        0 => AlertRuleSpec {
            at_least: Some(50),
            window_secs: Some(600),
            group_by: Some("ip".into()),
            pending_secs: Some(0),
            cooldown_secs: Some(300),
            ..base
        },
        1 => AlertRuleSpec {
            at_least: Some(20),
            window_secs: Some(300),
            group_by: Some("actor".into()),
            pending_secs: Some(60),
            cooldown_secs: Some(60),
            ..base
        },
        2 => AlertRuleSpec {
            filter: format!("action={action}&q=prod"),
            at_least: Some(100),
            window_secs: Some(3600),
            pending_secs: Some(0),
            cooldown_secs: Some(0),
            ..base
        },
        3 => AlertRuleSpec {
            at_least: Some(1000),
            window_secs: Some(60),
            group_by: Some("resource".into()),
            pending_secs: Some(0),
            cooldown_secs: Some(0),
            ..base
        },
        _ => AlertRuleSpec {
            condition: "absence".into(),
            window_secs: Some(3600),
            ..base
        },
    }
}

fn spawn_evaluator(pool: &PgPool) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let e = evaluator::Evaluator::new(pool.clone(), Uuid::new_v4(), evaluator::LEASE);
    tokio::spawn(evaluator::run(e, async move {
        let _ = stopped.await;
    }));
    stop
}

async fn cursor(pool: &PgPool) -> Result<i64, String> {
    trailkeep::storage::alerts::cursor(pool)
        .await
        .map_err(|e| e.to_string())
}

async fn head(pool: &PgPool) -> Result<i64, String> {
    entries::count_all(pool).await.map_err(|e| e.to_string())
}

/// Waits until the evaluator's cursor reaches the log's head.
async fn caught_up(pool: &PgPool, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if cursor(pool).await? >= head(pool).await? {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(format!("the evaluator did not catch up within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn alerts(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--events", "--notifications", "--backlog"])?;
    let n = o.number("--events", 100_000)?;
    let notifications = o.number("--notifications", 200)?.max(20) as usize;
    let backlog = o.number("--backlog", 200_000)?;
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    if head(&owner).await? > 0 {
        return Err("the benchmark needs an empty scratch database".into());
    }
    let writer = storage::connect(&url, 16)
        .await
        .map_err(|e| e.to_string())?;
    let (_, key) = accounts::create_key(&writer, "bench", &[Scope::Ingest], &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;

    // 1. Ingest with no rule and with 100 rules evaluated alongside, in the order none, rules,
    //    rules, none: each run appends to a larger log (slower by itself), and this order
    //    cancels that trend between the two sides.
    let until = Utc::now();
    let stop = spawn_evaluator(&writer);
    let mut bare = through_api(&writer, &key, n, until, 4).await?;
    caught_up(&writer, Duration::from_secs(120)).await?;
    let mut ids = Vec::new();
    for i in 0..100 {
        let rule = rules::create(&writer, &spec(i, vec![]), &Acting::cli(), Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        ids.push((rule.id, i));
    }
    let mut with_rules = through_api(&writer, &key, n, until, 4).await?;
    caught_up(&writer, Duration::from_secs(300)).await?;
    with_rules += through_api(&writer, &key, n, until, 4).await?;
    caught_up(&writer, Duration::from_secs(300)).await?;
    for (id, i) in &ids {
        let off = AlertRuleSpec {
            enabled: false,
            ..spec(*i, vec![])
        };
        rules::update(&writer, *id, &off, &Acting::cli(), Utc::now())
            .await
            .map_err(|e| e.to_string())?;
    }
    bare += through_api(&writer, &key, n, until, 4).await?;
    caught_up(&writer, Duration::from_secs(120)).await?;
    for (id, i) in &ids {
        rules::update(&writer, *id, &spec(*i, vec![]), &Acting::cli(), Utc::now())
            .await
            .map_err(|e| e.to_string())?;
    }
    let evaluated = 4 * n;
    let rate = |secs: f64| 2.0 * n as f64 / secs;
    println!(
        "ingest through the API, {n} events a run, 4 clients, the evaluator in this process; \
         runs in the order none, rules, rules, none (seconds: both runs of a side together):"
    );
    println!("| rules | seconds | events/s | ratio |");
    println!("| ---: | ---: | ---: | ---: |");
    println!("| 0 (baseline) | {bare:.2} | {:.0} | 1.00 |", rate(bare));
    println!(
        "| 100 | {with_rules:.2} | {:.0} | {:.2} |",
        rate(with_rules),
        bare / with_rules
    );
    println!("(the evaluator had read {evaluated} entries when all four were done)");

    // 2. Commit → webhook received.
    let arrived: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen = arrived.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let at = Instant::now();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                for e in v["data"]["entries"].as_array().into_iter().flatten() {
                    if let Some(actor) = e["actor"]["id"].as_str() {
                        seen.lock().unwrap().insert(actor.to_string(), at);
                    }
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let hook = format!(
        "http://{}/hook",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let seal = SealKey::derive(b"trailkeep-bench", channels::SEAL_LABEL);
    let allow = Policy::parse("127.0.0.1").map_err(|e| e.to_string())?;
    let (channel, _) = channels::create(
        &writer,
        &seal,
        &allow,
        &ChannelSpec {
            name: "bench receiver".into(),
            kind: "webhook".into(),
            url: Some(hook),
            enabled: true,
            ..Default::default()
        },
        &Acting::cli(),
        Utc::now(),
    )
    .await
    .map_err(|e| e.to_string())?;
    rules::create(
        &writer,
        &AlertRuleSpec {
            name: "bench latency".into(),
            severity: "info".into(),
            filter: "action=bench.ping".into(),
            condition: "every_match".into(),
            batch_secs: Some(0),
            at_least: None,
            window_secs: None,
            group_by: None,
            pending_secs: None,
            cooldown_secs: None,
            enabled: true,
            channels: vec![channel.id],
        },
        &Acting::cli(),
        Utc::now(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let (stop_delivery, delivery_stopped) = oneshot::channel::<()>();
    tokio::spawn(deliverer::run(
        deliverer::Deliverer {
            pool: writer.clone(),
            outbound: Outbound::new(allow),
            seal,
            owner: Uuid::new_v4(),
            retry: Default::default(),
            public_url: None,
            site: "bench".into(),
            extra_roots: vec![],
            timeout: deliverer::TIMEOUT,
            lease: deliverer::LEASE,
        },
        async move {
            let _ = delivery_stopped.await;
        },
    ));
    let addr = serve_here(&writer).await?;
    let client = reqwest::Client::new();
    let mut sent: Vec<(String, Instant)> = Vec::new();
    for i in 0..notifications {
        let actor = format!("bench-ping-{i}");
        let body = serde_json::json!({"action": "bench.ping", "actor": {"id": actor}});
        let r = client
            .post(format!("http://{addr}/api/v1/events"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 201 {
            return Err(format!("ingest answered {}", r.status()));
        }
        sent.push((actor, Instant::now()));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrived.lock().unwrap().len() < notifications && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = arrived.lock().unwrap().clone();
    let mut ms: Vec<f64> = sent
        .iter()
        .filter_map(|(a, t)| {
            got.get(a)
                .map(|at| at.duration_since(*t).as_secs_f64() * 1000.0)
        })
        .collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    if ms.len() < notifications {
        return Err(format!(
            "only {} of {notifications} notifications arrived",
            ms.len()
        ));
    }
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    println!();
    println!("commit (201) → webhook received on loopback, {notifications} events 150 ms apart:");
    println!("| p50 | p95 | max |");
    println!("| ---: | ---: | ---: |");
    println!(
        "| {:.0} ms | {:.0} ms | {:.0} ms |",
        pct(0.5),
        pct(0.95),
        ms[ms.len() - 1]
    );
    let _ = stop_delivery.send(());

    // 3. Catch-up after downtime, with the 100 rules.
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_secs(1)).await;
    trailkeep::service::demo::seed_events(
        &writer,
        app::model::Source::Trailkeep,
        backlog,
        Utc::now(),
        |_, _| {},
    )
    .await
    .map_err(|e| e.to_string())?;
    let behind = head(&writer).await? - cursor(&writer).await?;
    let started = Instant::now();
    let _stop = spawn_evaluator(&writer);
    caught_up(&writer, Duration::from_secs(1800)).await?;
    let secs = started.elapsed().as_secs_f64();
    println!();
    println!("catch-up after downtime, 101 rules:");
    println!("| entries behind | seconds | entries/s |");
    println!("| ---: | ---: | ---: |");
    println!("| {behind} | {secs:.2} | {:.0} |", behind as f64 / secs);
    Ok(())
}
