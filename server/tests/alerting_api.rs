//! Alerting's API as each principal sees it (anonymous, member, compliance officer, ingest
//! and read keys, an admin key, an admin's session), and configuration as code end to end:
//! channels (the signing secret shown once, never a URL's path), rules (refusals that change
//! nothing, a rename that keeps state, a change that restarts), mute, the alerts decided with
//! their console link, reached from an entry, and the delivery log with redelivery. Every
//! change is in the log; no secret is.

mod common;

use app::model::Role;
use axum::{body::Body, http::Request, Router};
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::domain::auth::Scope;
use trailkeep::service::alerts::evaluator::Evaluator;
use uuid::Uuid;

use common::console::{app, make, session};
use common::{key, send, Reply};

enum Who<'a> {
    Nobody,
    Cookie(&'a str),
    Key(&'a str),
}

fn request(method: &str, path: &str, who: &Who, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    match who {
        Who::Nobody => {}
        Who::Cookie(c) => b = b.header("cookie", *c),
        Who::Key(k) => b = b.header("authorization", format!("Bearer {k}")),
    }
    match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

async fn call(app: &Router, method: &str, path: &str, who: &Who<'_>, body: Option<Value>) -> Reply {
    send(app, request(method, path, who, body)).await
}

fn channel_spec(url: &str) -> Value {
    json!({"name": "Security team", "kind": "webhook", "url": url})
}

fn rule_spec(channels: &[&str]) -> Value {
    json!({
        "name": "Failed sign-ins",
        "severity": "critical",
        "filter": "action=user.login_failed",
        "condition": "threshold",
        "at_least": 5,
        "window_secs": 600,
        "group_by": "ip",
        "pending_secs": 0,
        "cooldown_secs": 300,
        "enabled": true,
        "channels": channels,
    })
}

/// One evaluator step over what the log holds, as the server's writer role.
async fn evaluate(pool: &PgPool) {
    let writer = common::writer_pool(pool).await;
    let mut e = Evaluator::new(writer, Uuid::new_v4(), std::time::Duration::from_secs(60));
    e.step(false).await.unwrap();
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn each_principal_gets_exactly_what_its_role_or_scope_allows(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "admin@example.com", Role::Admin).await;
    make(&pool, "officer@example.com", Role::Compliance).await;
    make(&pool, "member@example.com", Role::Member).await;
    let admin = session(&app, "admin@example.com").await;
    let officer = session(&app, "officer@example.com").await;
    let member = session(&app, "member@example.com").await;
    let ingest = key(&pool, &[Scope::Ingest]).await;
    let read = key(&pool, &[Scope::Read]).await;
    let admin_only = key(&pool, &[Scope::Admin]).await;
    let admin_key = key(&pool, &[Scope::Admin, Scope::Read]).await;
    let create = || Some(channel_spec("https://hooks.example.com/trailkeep"));
    for path in [
        "/api/v1/alert-rules",
        "/api/v1/notification-channels",
        "/api/v1/alerts",
        "/api/v1/deliveries",
    ] {
        assert_eq!(
            call(&app, "GET", path, &Who::Nobody, None).await.status,
            401,
            "{path}"
        );
        assert_eq!(
            call(&app, "GET", path, &Who::Cookie(&member), None)
                .await
                .status,
            403
        );
        assert_eq!(
            call(&app, "GET", path, &Who::Key(&ingest), None)
                .await
                .status,
            403
        );
        assert_eq!(
            call(&app, "GET", path, &Who::Key(&read), None).await.status,
            403
        );
        assert_eq!(
            call(&app, "GET", path, &Who::Cookie(&officer), None)
                .await
                .status,
            200
        );
        assert_eq!(
            call(&app, "GET", path, &Who::Cookie(&admin), None)
                .await
                .status,
            200
        );
        assert_eq!(
            call(&app, "GET", path, &Who::Key(&admin_key), None)
                .await
                .status,
            200
        );
    }
    let path = "/api/v1/notification-channels";
    for who in [
        Who::Nobody,
        Who::Cookie(&member),
        Who::Cookie(&officer),
        Who::Key(&ingest),
        Who::Key(&read),
    ] {
        let r = call(&app, "POST", path, &who, create()).await;
        assert!(matches!(r.status, 401 | 403), "{}", r.text);
        assert!(r.body["error"].is_string());
    }
    // A key that may configure but not read: a channel sends entries out, so it is refused.
    let r = call(&app, "POST", path, &Who::Key(&admin_only), create()).await;
    assert_eq!(r.status, 403);
    assert!(
        r.body["error"].as_str().unwrap().contains("read scope"),
        "{}",
        r.text
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM notification_channels").await,
        0
    );
    assert_eq!(
        call(&app, "POST", path, &Who::Key(&admin_key), create())
            .await
            .status,
        201
    );
    assert_eq!(
        call(&app, "POST", path, &Who::Cookie(&admin), create())
            .await
            .status,
        201
    );
    // A session's change from another site is refused (the cross-site guard).
    let mut cross = request("POST", path, &Who::Cookie(&admin), create());
    cross
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(send(&app, cross).await.status, 403);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM notification_channels").await,
        2
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn channels_and_rules_as_code_each_change_recorded_and_no_secret_shown_twice(pool: PgPool) {
    let app = app(&pool).await;
    let k = key(&pool, &[Scope::Admin, Scope::Read]).await;
    let who = Who::Key(&k);
    // A channel: its secret once; never the URL's path.
    let made = call(
        &app,
        "POST",
        "/api/v1/notification-channels",
        &who,
        Some(channel_spec("https://hooks.slack.com/services/T0/B0/t0k3n")),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let secret = made.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let channel = made.body["channel"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        made.body["channel"]["url_origin"],
        "https://hooks.slack.com"
    );
    let shown = call(
        &app,
        "GET",
        &format!("/api/v1/notification-channels/{channel}"),
        &who,
        None,
    )
    .await;
    assert_eq!(shown.status, 200);
    for text in [&shown.text, &made.text] {
        assert!(!text.contains("t0k3n"));
    }
    assert!(!shown.text.contains(&secret));
    // Refusals say what to fix and change nothing.
    for (body, words) in [
        (
            json!({"name": "x", "kind": "webhook", "url": "http://10.0.0.1/"}),
            "TRAILKEEP_OUTBOUND_ALLOW",
        ),
        (
            json!({"name": "x", "kind": "pager"}),
            "\"webhook\" or \"email\"",
        ),
        (
            json!({"name": "", "kind": "webhook", "url": "https://a.example/"}),
            "name of 1 to 100",
        ),
        (
            json!({"name": "x", "kind": "email", "smtp_host": "smtp.example.com", "mail_from": "a@example.com", "mail_to": ["nope"]}),
            "not an email address",
        ),
    ] {
        let r = call(
            &app,
            "POST",
            "/api/v1/notification-channels",
            &who,
            Some(body),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(
            r.body["error"].as_str().unwrap().contains(words),
            "{}",
            r.text
        );
    }
    let raw = send(
        &app,
        Request::post("/api/v1/notification-channels")
            .header("authorization", format!("Bearer {k}"))
            .header("content-type", "text/plain")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(raw.status, 415);
    let broken = send(
        &app,
        Request::post("/api/v1/alert-rules")
            .header("authorization", format!("Bearer {k}"))
            .header("content-type", "application/json")
            .body(Body::from("{\"name\": "))
            .unwrap(),
    )
    .await;
    assert_eq!(broken.status, 400);
    assert!(broken.body["error"]
        .as_str()
        .unwrap()
        .contains("does not read"));
    assert_eq!(
        count(&pool, "SELECT count(*) FROM notification_channels").await,
        1
    );

    // A rule naming an unknown channel: refused, nothing stored, nothing recorded.
    let unknown = Uuid::new_v4().to_string();
    let r = call(
        &app,
        "POST",
        "/api/v1/alert-rules",
        &who,
        Some(rule_spec(&[&unknown])),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"].as_str().unwrap().contains("channel"));
    assert_eq!(count(&pool, "SELECT count(*) FROM alert_rules").await, 0);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM audit_entries WHERE action = 'alert_rule.created'"
        )
        .await,
        0
    );
    let mut bad = rule_spec(&[]);
    bad["severity"] = json!("loud");
    let r = call(&app, "POST", "/api/v1/alert-rules", &who, Some(bad)).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"].as_str().unwrap().contains("\"critical\""));

    let r = call(
        &app,
        "POST",
        "/api/v1/alert-rules",
        &who,
        Some(rule_spec(&[&channel])),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let rule = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["state"], "ok");
    assert_eq!(r.body["channels"], json!([channel]));
    let version = || async {
        count(
            &pool,
            &format!("SELECT version FROM alert_rules WHERE id = '{rule}'"),
        )
        .await
    };
    // A rename keeps its state; a new threshold starts it afresh.
    let mut renamed = rule_spec(&[&channel]);
    renamed["name"] = json!("Sign-in attack");
    let r = call(
        &app,
        "PUT",
        &format!("/api/v1/alert-rules/{rule}"),
        &who,
        Some(renamed.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Sign-in attack");
    assert_eq!(version().await, 1);
    renamed["at_least"] = json!(10);
    let r = call(
        &app,
        "PUT",
        &format!("/api/v1/alert-rules/{rule}"),
        &who,
        Some(renamed),
    )
    .await;
    assert_eq!(r.body["at_least"], 10);
    assert_eq!(version().await, 2);
    // Mute: a time in the past is refused; an hour ahead mutes.
    let past = json!({"until": "2001-01-01T00:00:00Z"});
    let r = call(
        &app,
        "PUT",
        &format!("/api/v1/alert-rules/{rule}/mute"),
        &who,
        Some(past),
    )
    .await;
    assert_eq!(r.status, 400);
    let until = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).to_rfc3339();
    let r = call(
        &app,
        "PUT",
        &format!("/api/v1/alert-rules/{rule}/mute"),
        &who,
        Some(json!({"until": until})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["state"], "muted");
    // A channel's kind does not change.
    let r = call(
        &app,
        "PUT",
        &format!("/api/v1/notification-channels/{channel}"),
        &who,
        Some(
            json!({"name": "x", "kind": "email", "smtp_host": "smtp.example.com",
                    "mail_from": "a@example.com", "mail_to": ["b@example.com"]}),
        ),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("kind does not change"));
    // Rotation and a test notification.
    let r = call(
        &app,
        "POST",
        &format!("/api/v1/notification-channels/{channel}/secret"),
        &who,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let rotated = r.body["secret"].as_str().unwrap().to_string();
    assert_ne!(rotated, secret);
    let r = call(
        &app,
        "POST",
        &format!("/api/v1/notification-channels/{channel}/test"),
        &who,
        None,
    )
    .await;
    assert_eq!(r.status, 202);
    let delivery = r.body["delivery"].as_str().unwrap().to_string();
    let log = call(
        &app,
        "GET",
        &format!("/api/v1/deliveries?channel={channel}"),
        &who,
        None,
    )
    .await;
    assert_eq!(log.status, 200);
    assert_eq!(log.body["deliveries"][0]["id"], delivery.as_str());
    assert_eq!(log.body["deliveries"][0]["status"], "pending");
    assert_eq!(
        log.body["deliveries"][0]["webhook_id"],
        format!("msg_{}", delivery.replace('-', ""))
    );
    let r = call(
        &app,
        "POST",
        &format!("/api/v1/deliveries/{delivery}/redeliver"),
        &who,
        None,
    )
    .await;
    assert_eq!(r.status, 409, "only a dead one: {}", r.text);
    let r = call(
        &app,
        "POST",
        &format!("/api/v1/deliveries/{}/redeliver", Uuid::new_v4()),
        &who,
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(&app, "GET", "/api/v1/deliveries?status=lost", &who, None).await;
    assert_eq!((r.status, r.body["param"].as_str()), (400, Some("status")));
    // Deleting.
    let r = call(
        &app,
        "DELETE",
        &format!("/api/v1/alert-rules/{rule}"),
        &who,
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(
        &app,
        "GET",
        &format!("/api/v1/alert-rules/{rule}"),
        &who,
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        &app,
        "DELETE",
        &format!("/api/v1/notification-channels/{channel}"),
        &who,
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(&app, "GET", "/api/v1/notification-channels", &who, None).await;
    assert_eq!(r.body, json!([]));
    // Every change is in the log, by the key; no secret and no URL path is.
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_entries WHERE action LIKE 'alert_rule.%' \
            OR action LIKE 'notification_channel.%' ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "notification_channel.created",
            "alert_rule.created",
            "alert_rule.updated",
            "alert_rule.updated",
            "alert_rule.muted",
            "notification_channel.updated",
            "notification_channel.tested",
            "alert_rule.deleted",
            "notification_channel.deleted",
        ]
    );
    let all: String =
        sqlx::query_scalar("SELECT string_agg(details::text, ' ') FROM audit_entries")
            .fetch_one(&pool)
            .await
            .unwrap();
    for s in [secret.as_str(), rotated.as_str(), "t0k3n"] {
        assert!(!all.contains(s.trim_start_matches("whsec_")));
    }
}

/// An alert lists its first ten entries; an entry after them (up to the alert's last) still
/// leads to it, and an entry of another group or one the rule does not see in the same span
/// does not.
#[sqlx::test(migrations = "../migrations")]
async fn an_entry_beyond_an_alerts_first_ten_leads_to_it_too(pool: PgPool) {
    let app = app(&pool).await;
    let k = key(&pool, &[Scope::Admin, Scope::Read]).await;
    let ingest = key(&pool, &[Scope::Ingest]).await;
    let who = Who::Key(&k);
    let mut spec = rule_spec(&[]);
    spec["at_least"] = json!(12);
    let r = call(&app, "POST", "/api/v1/alert-rules", &who, Some(spec)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Fourteen failures from the attacker, each followed by one failure from an address of its
    // own (a group that never fires) and a success from the attacker (neither counts for the
    // attacker's alert).
    let mut events = Vec::new();
    for i in 0..14 {
        events.push(
            json!({"action": "user.login_failed", "actor": {"id": "mallory"}, "ip": "203.0.113.7"}),
        );
        events.push(
            json!({"action": "user.login_failed", "actor": {"id": "bob"}, "ip": format!("198.51.100.{i}")}),
        );
        events
            .push(json!({"action": "user.login", "actor": {"id": "mallory"}, "ip": "203.0.113.7"}));
    }
    let r = send(
        &app,
        common::post_json(Some(&ingest), Value::Array(events).to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let seqs: Vec<i64> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    evaluate(&pool).await;
    let alerts_of = |seq: i64| {
        let app = app.clone();
        let who = Who::Key(&k);
        async move {
            let r = call(
                &app,
                "GET",
                &format!("/api/v1/alerts?seq={seq}"),
                &who,
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.body["alerts"].as_array().unwrap().clone()
        }
    };
    // The attacker's twelfth failure fired the alert: not among its first ten, yet its own.
    let twelfth = seqs[3 * 11];
    let found = alerts_of(twelfth).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["kind"], "fired");
    assert_eq!(found[0]["count"], 12);
    assert_eq!(found[0]["group"], "203.0.113.7");
    let listed: Vec<i64> = found[0]["seqs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap())
        .collect();
    assert_eq!(listed.len(), 10);
    assert!(!listed.contains(&twelfth));
    assert_eq!(alerts_of(seqs[3 * 10]).await.len(), 1, "the eleventh");
    // Within the span, another address's failure and the attacker's success are not its.
    assert_eq!(alerts_of(seqs[3 * 10 + 1]).await, Vec::<Value>::new());
    assert_eq!(alerts_of(seqs[3 * 10 + 2]).await, Vec::<Value>::new());
    // The thirteenth came after the alert fired: not one of the fired alert's entries (the
    // resolve, later, counts it).
    assert_eq!(alerts_of(seqs[3 * 12]).await, Vec::<Value>::new());
}

#[sqlx::test(migrations = "../migrations")]
async fn an_entry_leads_to_its_alert_and_the_alert_back_to_its_entries(pool: PgPool) {
    let app = app(&pool).await;
    let k = key(&pool, &[Scope::Admin, Scope::Read]).await;
    let ingest = key(&pool, &[Scope::Ingest]).await;
    let who = Who::Key(&k);
    let mut spec = rule_spec(&[]);
    spec["at_least"] = json!(3);
    let r = call(&app, "POST", "/api/v1/alert-rules", &who, Some(spec)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let rule = r.body["id"].as_str().unwrap().to_string();
    let events: Vec<Value> = (0..3)
        .map(|_| json!({"action": "user.login_failed", "actor": {"id": "mallory"}, "ip": "203.0.113.7"}))
        .collect();
    let r = send(
        &app,
        common::post_json(Some(&ingest), Value::Array(events).to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let seq = r.body["entries"][1]["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("{}", r.text));
    evaluate(&pool).await;
    let r = call(
        &app,
        "GET",
        &format!("/api/v1/alerts?seq={seq}"),
        &who,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let alerts = r.body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{}", r.text);
    assert_eq!(alerts[0]["rule_id"], rule.as_str());
    assert_eq!(alerts[0]["kind"], "fired");
    assert_eq!(alerts[0]["group"], "203.0.113.7");
    let link = alerts[0]["link"].as_str().unwrap();
    assert!(
        link.starts_with("/audit?") && link.contains("ip=203.0.113.7"),
        "{link}"
    );
    assert!(link.contains("action=user.login_failed"), "{link}");
    // The link's filter shows exactly the three entries.
    let query = link.trim_start_matches("/audit?");
    let r = send(
        &app,
        Request::get(format!("/api/v1/events/count?{query}"))
            .header(
                "authorization",
                format!("Bearer {}", key(&pool, &[Scope::Read]).await),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.body["count"], 3, "{}", r.text);
    let r = call(
        &app,
        "GET",
        &format!("/api/v1/alerts?seq={}", seq + 100),
        &who,
        None,
    )
    .await;
    assert_eq!(r.body["alerts"], json!([]));
    let r = call(&app, "GET", "/api/v1/alerts?limit=0", &who, None).await;
    assert_eq!(r.status, 400);
    // The preview over the last 7 days, by the same machine: it would have fired once, at
    // the third entry; with five needed, never.
    let mut spec = rule_spec(&[]);
    spec["at_least"] = json!(3);
    let r = call(
        &app,
        "POST",
        "/api/v1/alert-rules/preview",
        &who,
        Some(spec.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["fired"].as_u64(), r.body["entries"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(r.body["times"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["times"][0], alerts[0]["at"]);
    spec["at_least"] = json!(5);
    let r = call(
        &app,
        "POST",
        "/api/v1/alert-rules/preview",
        &who,
        Some(spec.clone()),
    )
    .await;
    assert_eq!(r.body["fired"], 0);
    spec["window_secs"] = json!(5);
    let r = call(
        &app,
        "POST",
        "/api/v1/alert-rules/preview",
        &who,
        Some(spec),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("between 1 min and 7 d"));
}
