//! `POST /api/v1/events` against real PostgreSQL.

mod common;

use axum::{body::Body, http::Request};
use common::{key, post_json, router, send};
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::{domain::auth::Scope, storage::entries};

fn event(action: &str) -> Value {
    json!({"action": action, "actor": {"id": "u_42", "name": "Ada Admin", "email": "ada@example.com", "type": "user"},
           "resource": {"type": "config", "id": "cfg_7"}, "ip": "203.0.113.7", "user_agent": "curl/8",
           "status": "success", "occurred_at": "2026-11-25T10:00:00Z",
           "details": {"changes": {"rate_limit": {"before": 100, "after": 250}}}})
}

#[sqlx::test(migrations = "../migrations")]
async fn single_event_is_committed_and_acknowledged(pool: PgPool) {
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Ingest]).await;
    let before = entries::count_all(&pool).await.unwrap();
    let r = send(
        &app,
        post_json(Some(&k), event("config.updated").to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let acks = r.body["entries"].as_array().unwrap();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["seq"], before);
    assert_eq!(acks[0]["leaf_hash"].as_str().unwrap().len(), 64);
    let stored = entries::rows_by_seq(&pool, before, before + 1)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let e = stored.into_iter().next().unwrap().into_entry();
    assert_eq!(e.id.to_string(), acks[0]["id"]);
    assert_eq!(e.action, "config.updated");
    assert_eq!(e.actor.email.as_deref(), Some("ada@example.com"));
    assert_eq!(e.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(e.occurred_at.to_rfc3339(), "2026-11-25T10:00:00+00:00");
    assert_eq!(e.details["changes"]["rate_limit"]["after"], 250);
    assert_eq!(e.leaf_hash, acks[0]["leaf_hash"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn minimal_event_defaults(pool: PgPool) {
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Ingest]).await;
    let r = send(
        &app,
        post_json(Some(&k), r#"{"action":"user.login","actor":{"id":"u1"}}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let seq = r.body["entries"][0]["seq"].as_i64().unwrap();
    let row = entries::rows_by_seq(&pool, seq, seq + 1)
        .await
        .unwrap()
        .remove(0);
    let row = row.record;
    assert_eq!(row.status, app::model::Status::Success);
    assert_eq!(row.actor_type, app::model::ActorType::User);
    assert_eq!(
        row.occurred_at, row.recorded_at,
        "occurred_at defaults to the receive time"
    );
    assert_eq!(row.details, json!({}));
}

#[sqlx::test(migrations = "../migrations")]
async fn batch_is_atomic_and_reports_every_bad_event(pool: PgPool) {
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Ingest]).await;
    let before = entries::count_all(&pool).await.unwrap();
    let body = json!([event("config.updated"), {"action": "Bad", "actor": {"id": "x"}}, event("key.created"),
                      {"action": "a.b", "actor": {}, "ip": "nope"}]);
    let r = send(&app, post_json(Some(&k), body.to_string())).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("nothing was stored"));
    let details = r.body["details"].as_array().unwrap();
    let got: Vec<(i64, &str)> = details
        .iter()
        .map(|d| (d["index"].as_i64().unwrap(), d["field"].as_str().unwrap()))
        .collect();
    assert!(got.contains(&(1, "action")), "{got:?}");
    assert!(got.contains(&(3, "actor.id")), "{got:?}");
    assert!(got.contains(&(3, "ip")), "{got:?}");
    assert_eq!(
        entries::count_all(&pool).await.unwrap(),
        before,
        "nothing stored"
    );

    let batch: Vec<Value> = (0..500)
        .map(|i| {
            event(if i % 2 == 0 {
                "config.updated"
            } else {
                "user.login"
            })
        })
        .collect();
    let r = send(&app, post_json(Some(&k), Value::Array(batch).to_string())).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let seqs: Vec<i64> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (before..before + 500).collect::<Vec<_>>());
}

#[sqlx::test(migrations = "../migrations")]
async fn idempotent_retry_and_conflict(pool: PgPool) {
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Ingest]).await;
    let mut e = event("config.updated");
    e["id"] = json!("6f1d8a52-8a8e-4f7a-9d3e-2f0c1b9a7e11");
    let first = send(&app, post_json(Some(&k), e.to_string())).await;
    assert_eq!(first.status, 201);
    let count = entries::count_all(&pool).await.unwrap();

    let retry = send(&app, post_json(Some(&k), e.to_string())).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.body, first.body, "a retry returns the stored entry");
    assert_eq!(
        entries::count_all(&pool).await.unwrap(),
        count,
        "and stores nothing"
    );

    // A batch mixing the retry with a new event stores only the new one.
    let mixed = send(
        &app,
        post_json(
            Some(&k),
            json!([e.clone(), event("key.created")]).to_string(),
        ),
    )
    .await;
    assert_eq!(mixed.status, 201);
    assert_eq!(mixed.body["entries"][0], first.body["entries"][0]);
    assert_eq!(mixed.body["entries"][1]["seq"], count);

    let mut changed = e.clone();
    changed["status"] = json!("failure");
    let conflict = send(
        &app,
        post_json(Some(&k), json!([event("kb.bound"), changed]).to_string()),
    )
    .await;
    assert_eq!(conflict.status, 409, "{}", conflict.text);
    assert_eq!(conflict.body["details"][0]["index"], 1);
    assert_eq!(
        entries::count_all(&pool).await.unwrap(),
        count + 1,
        "the 409 batch stored nothing"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn authentication_and_transport_errors_are_json(pool: PgPool) {
    let app = router(&pool).await;
    let ingest = key(&pool, &[Scope::Ingest]).await;
    let read_only = key(&pool, &[Scope::Read]).await;
    let body = event("config.updated").to_string();

    let r = send(&app, post_json(None, body.clone())).await;
    assert_eq!(r.status, 401);
    assert!(r.body["error"].is_string());
    let r = send(&app, post_json(Some("tk_0000"), body.clone())).await;
    assert_eq!(r.status, 401);
    let r = send(&app, post_json(Some(&read_only), body.clone())).await;
    assert_eq!(r.status, 403);
    assert!(r.body["error"].as_str().unwrap().contains("ingest"));

    let r = send(
        &app,
        Request::post("/api/v1/events")
            .header("authorization", format!("Bearer {ingest}"))
            .header("content-type", "text/plain")
            .body(Body::from(body.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 415);
    assert!(r.body["error"].is_string());

    let huge =
        json!({"action": "a.b", "actor": {"id": "x"}, "details": {"pad": "x".repeat(1_100_000)}});
    let r = send(&app, post_json(Some(&ingest), huge.to_string())).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.body["error"].is_string());

    for bad in [
        "{",
        "[]",
        "42",
        r#"{"action":"a.b","actor":{"id":"x"},"details":{"n":18446744073709551615}}"#,
    ] {
        let r = send(&app, post_json(Some(&ingest), bad)).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert!(r.body["error"].is_string(), "{bad}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn revoked_key_is_refused(pool: PgPool) {
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Ingest]).await;
    let prefix = &k[..11];
    trailkeep::service::accounts::revoke_key(
        &pool,
        prefix,
        &trailkeep::service::accounts::Acting::cli(),
    )
    .await
    .unwrap();
    let r = send(&app, post_json(Some(&k), event("a.b").to_string())).await;
    assert_eq!(r.status, 401);
    let last = entries::recent(&pool, 1).await.unwrap().remove(0);
    assert_eq!(last.action, "key.revoked");
}

/// `/api/v1/metrics`: the Prometheus text of this process, for readers only; route labels are
/// templates, never what a client sent.
#[sqlx::test(migrations = "../migrations")]
async fn metrics_count_requests_by_route_template_for_readers_only(pool: PgPool) {
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Ingest, Scope::Read]).await;
    let ingest_only = key(&pool, &[Scope::Ingest]).await;
    let r = send(
        &app,
        post_json(Some(&k), event("config.updated").to_string()),
    )
    .await;
    assert_eq!(r.status, 201);
    let id = r.body["entries"][0]["id"].as_str().unwrap().to_string();
    let get = |path: String, key: Option<&str>| {
        let mut b = Request::get(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        b.body(Body::empty()).unwrap()
    };
    assert_eq!(
        send(&app, get(format!("/api/v1/events/{id}"), Some(&k)))
            .await
            .status,
        200
    );

    assert_eq!(
        send(&app, get("/api/v1/metrics".into(), None)).await.status,
        401
    );
    assert_eq!(
        send(&app, get("/api/v1/metrics".into(), Some(&ingest_only)))
            .await
            .status,
        403
    );
    let r = send(&app, get("/api/v1/metrics".into(), Some(&k))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text;
    for line in [
        "# TYPE trailkeep_http_requests_total counter",
        "trailkeep_http_requests_total{method=\"POST\",route=\"/api/v1/events\",status=\"201\"}",
        "trailkeep_http_requests_total{method=\"GET\",route=\"/api/v1/events/{id}\",status=\"200\"}",
        "trailkeep_db_connections{pool=\"read\",state=\"idle\"}",
        "trailkeep_live_sockets 0",
        "trailkeep_log_entries ",
        "trailkeep_events_ingested_total ",
        "# TYPE trailkeep_http_request_duration_seconds histogram",
        "trailkeep_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/events\"}",
        "trailkeep_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/events\",le=\"+Inf\"}",
        "trailkeep_live_listener_reconnects_total 0",
        "trailkeep_db_pool_timeouts_total ",
        "trailkeep_chain_head_seq ",
        "trailkeep_merkle_tree_entries ",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(!text.contains(&id), "a client's value became a label");
    // The append and the read above each waited for a connection of their pool (statics are
    // per process, so other tests' waits may add to the counts: at least one each).
    for pool in ["write", "read"] {
        let count = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "trailkeep_db_pool_wait_seconds_count{{pool=\"{pool}\"}} "
                ))
            })
            .unwrap_or_else(|| panic!("no wait count for {pool} in\n{text}"));
        assert!(count.parse::<u64>().unwrap() >= 1, "{pool}: {count}");
        assert!(text.contains(&format!(
            "trailkeep_db_pool_wait_seconds_bucket{{pool=\"{pool}\",le=\"+Inf\"}} {count}"
        )));
    }
    // Every sample line is `name{labels} number`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}
