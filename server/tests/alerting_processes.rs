//! Alerting across real `trailkeep serve` processes on one database, killed with SIGKILL:
//! one evaluator at a time, failover within the evaluator's lease, and every notification
//! delivered at least once — exactly once per `webhook-id` after the receiver drops
//! duplicates — whether a process dies after deciding and before sending, or after sending and
//! before recording. The evaluator neither skips nor repeats an entry: one alert per group,
//! as the log says there must be.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::domain::auth::Scope;

use common::alerts::{Answer, Receiver};
use common::processes::{http, start, Server};

async fn post(server: &Server, path: &str, key: &str, body: Value) -> Value {
    let (status, text) = http(server.addr, path, Some(key), Some(&body.to_string()))
        .await
        .unwrap();
    assert!((200..300).contains(&status), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Sends one sign-in failure from each of `actors`, through `server`.
async fn failures(server: &Server, key: &str, actors: std::ops::Range<u32>) {
    let events: Vec<Value> = actors
        .map(|a| json!({"action": "user.login_failed", "actor": {"id": format!("user-{a}")}}))
        .collect();
    post(server, "/api/v1/events", key, Value::Array(events)).await;
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn wait_for(pool: &PgPool, what: &str, sql: &str, want: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = scalar(pool, sql).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {got}, not {want}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn killed_processes_lose_no_notification_and_decide_nothing_twice(pool: PgPool) {
    common::partitions_through(&pool, "2027-12-01T00:00:00Z").await;
    let url = common::url_of(&pool).await;
    let env = [
        ("TRAILKEEP_OUTBOUND_ALLOW", "127.0.0.1"),
        ("TRAILKEEP_DELIVERY_LEASE_SECONDS", "20"),
    ];
    let key = common::key(&pool, &[Scope::Admin, Scope::Read, Scope::Ingest]).await;
    let receiver = Receiver::start().await;
    // A evaluates alone at first.
    let a = start(&url, &env).await;
    let made = post(
        &a,
        "/api/v1/notification-channels",
        &key,
        json!({"name": "receiver", "kind": "webhook", "url": receiver.url}),
    )
    .await;
    receiver.trust(made["secret"].as_str().unwrap());
    let channel = made["channel"]["id"].as_str().unwrap();
    // One alert per actor: at least one failure within a minute, grouped by actor.
    post(
        &a,
        "/api/v1/alert-rules",
        &key,
        json!({
            "name": "any failure", "severity": "warning", "filter": "action=user.login_failed",
            "condition": "threshold", "at_least": 1, "window_secs": 60, "group_by": "actor",
            "pending_secs": 0, "cooldown_secs": 0, "enabled": true, "channels": [channel],
        }),
    )
    .await;
    let alerts = "SELECT count(*) FROM alerts WHERE kind = 'fired'";
    failures(&a, &key, 0..10).await;
    wait_for(
        &pool,
        "alerts decided by A",
        alerts,
        10,
        Duration::from_secs(20),
    )
    .await;
    wait_for(
        &pool,
        "delivered by A",
        "SELECT count(*) FROM deliveries WHERE status = 'delivered'",
        10,
        Duration::from_secs(20),
    )
    .await;

    // The receiver stalls the next notification; once A is sending it, B starts and A is
    // killed while it waits for the answer (sent, not recorded).
    receiver.answer([Answer::Slow(Duration::from_secs(60))]);
    failures(&a, &key, 10..11).await;
    wait_for(
        &pool,
        "the eleventh alert",
        alerts,
        11,
        Duration::from_secs(20),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.got().len() < 11 {
        assert!(
            Instant::now() < deadline,
            "the eleventh notification never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = start(&url, &env).await;
    drop(a); // SIGKILL (Child::kill), while the receiver holds its answer
    let killed_at = Instant::now();
    // Through B: more failures. B takes the evaluation over once A's lease lapses (10 s).
    failures(&b, &key, 11..30).await;
    wait_for(
        &pool,
        "alerts after failover",
        alerts,
        30,
        Duration::from_secs(30),
    )
    .await;
    let failover = killed_at.elapsed();
    // Every notification delivered, the stalled one again by B once A's claim lapsed (20 s).
    wait_for(
        &pool,
        "delivered after the kill",
        "SELECT count(*) FROM deliveries WHERE status = 'delivered'",
        30,
        Duration::from_secs(60),
    )
    .await;

    // Nothing skipped, nothing twice: one alert per actor, exactly the actors in the log.
    let actors = scalar(
        &pool,
        "SELECT count(DISTINCT actor_id) FROM audit_entries WHERE action = 'user.login_failed'",
    )
    .await;
    assert_eq!(actors, 30);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(DISTINCT group_key) FROM alerts WHERE kind = 'fired'"
        )
        .await,
        30
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM (SELECT alert_id FROM deliveries GROUP BY alert_id HAVING count(*) > 1) d").await,
        0,
        "one delivery per alert"
    );
    // At the receiver: every request signed; after dropping duplicates by webhook-id, one per
    // alert; the stalled one came twice.
    let got = receiver.got();
    assert!(
        got.iter().all(|g| g.verified),
        "unsigned or badly signed requests"
    );
    let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
    for g in &got {
        *by_id.entry(g.id.as_str()).or_default() += 1;
    }
    assert_eq!(by_id.len(), 30);
    let groups: BTreeSet<String> = got
        .iter()
        .map(|g| {
            g.json()["data"]["alert"]["group"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(groups.len(), 30);
    assert!(
        by_id.values().any(|n| *n >= 2),
        "the notification in flight when A died was sent again: {by_id:?}"
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM audit_entries WHERE action = 'webhook.delivered'"
        )
        .await,
        30,
        "each delivery recorded once"
    );
    eprintln!("failover: alerts flowed again {failover:?} after the kill");
    drop(b);
}
