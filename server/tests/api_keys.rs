//! API keys managed from the console (issue 25, item 3), against real PostgreSQL: who may
//! list, create, rotate and revoke (admins; every other principal is refused, an API key of any
//! scope included), the entry each change writes (with before and after, never a secret), a
//! rotated key's previous secret until its grace end and not after (fixed clock), expiry, the
//! last use noted at most once a minute, a revoked key's live socket closed at once, and the
//! database keeping a revoked key revoked whoever holds the server's role.

mod common;

use std::time::{Duration, Instant};

use app::keys::Scope;
use app::model::Role;
use axum::{body::Body, http::Request, Router};
use chrono::Utc;
use common::console::{error, PASSWORD};
use common::send;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::{
    service::{
        accounts::{self, Acting},
        keys,
    },
    storage::entries,
};

async fn signed_in(app: &Router, pool: &PgPool, email: &str, role: Role) -> String {
    accounts::create_user(pool, email, "Test User", role, PASSWORD, &Acting::cli())
        .await
        .unwrap();
    let body = serde_urlencoded::to_string([("email", email), ("password", PASSWORD)]).unwrap();
    let r = send(
        app,
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "trailkeep.test")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// A server function called as the console calls it: JSON, with a session cookie (or, to
/// attack it, an API key).
fn call(path: &str, cookie: Option<&str>, bearer: Option<&str>, body: Value) -> Request<Body> {
    let mut b = Request::post(path)
        .header("content-type", "application/json")
        .header("user-agent", "keys-test/1");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    if let Some(k) = bearer {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

const LIST: &str = <app::api::keys::ListKeys as ServerFn>::PATH;
const CREATE: &str = <app::api::keys::CreateKey as ServerFn>::PATH;
const ROTATE: &str = <app::api::keys::RotateKey as ServerFn>::PATH;
const REVOKE: &str = <app::api::keys::RevokeKey as ServerFn>::PATH;

/// Ingest with `secret`: the status.
async fn ingest_with(app: &Router, secret: &str) -> u16 {
    send(
        app,
        common::post_json(
            Some(secret),
            json!({"action": "user.login", "actor": {"id": "u1"}}).to_string(),
        ),
    )
    .await
    .status
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_manage_keys_and_every_change_is_recorded_without_its_secret(pool: PgPool) {
    let app = common::router(&pool).await;
    let admin = signed_in(&app, &pool, "ada@example.com", Role::Admin).await;
    let compliance = signed_in(&app, &pool, "cy@example.com", Role::Compliance).await;
    let member = signed_in(&app, &pool, "mel@example.com", Role::Member).await;
    let reader = common::key(&pool, &[Scope::Ingest, Scope::Read]).await;

    // Create, as an admin: the secret once, in this answer.
    let r = send(
        &app,
        call(
            CREATE,
            Some(&admin),
            None,
            json!({"name": " Billing ", "scopes": ["ingest"], "expires_in_days": 30}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let id = r.body["key"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["key"]["name"], "Billing");
    assert_eq!(r.body["key"]["created_by"], "ada@example.com");
    assert!(r.body["key"]["expires_at"].is_string());
    assert!(
        secret.starts_with("tk_") && secret.starts_with(r.body["key"]["prefix"].as_str().unwrap())
    );
    assert_eq!(ingest_with(&app, &secret).await, 201);

    // Every other principal is refused each call, and nothing changes.
    let calls = [
        (LIST, json!({})),
        (
            CREATE,
            json!({"name": "x", "scopes": ["read"], "expires_in_days": null}),
        ),
        (ROTATE, json!({"id": id, "grace_hours": 0})),
        (REVOKE, json!({"id": id})),
    ];
    for (path, body) in &calls {
        for cookie in [&compliance, &member] {
            let r = send(&app, call(path, Some(cookie), None, body.clone())).await;
            assert_eq!(r.status, 403, "{path}: {}", r.text);
            assert_eq!(error(&r), app::error::ConsoleError::AdminOnly);
        }
        // An API key of any scope, and nobody: a server function takes only a session.
        for bearer in [Some(reader.as_str()), Some(secret.as_str()), None] {
            let r = send(&app, call(path, None, bearer, body.clone())).await;
            assert_eq!(r.status, 401, "{path}: {}", r.text);
            assert_eq!(error(&r), app::error::ConsoleError::SignedOut);
        }
    }
    let listed = send(&app, call(LIST, Some(&admin), None, json!({}))).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.body.as_array().unwrap().len(),
        2,
        "nothing was created by the refused"
    );
    assert!(
        !listed.text.contains(&secret),
        "a list never holds a secret"
    );

    // Rotate, then revoke, as the admin.
    let r = send(
        &app,
        call(
            ROTATE,
            Some(&admin),
            None,
            json!({"id": id, "grace_hours": 24}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated = r.body["secret"].as_str().unwrap().to_string();
    assert_ne!(rotated, secret);
    assert_eq!(
        r.body["key"]["id"],
        id.as_str(),
        "a rotated key keeps its identity"
    );
    assert_eq!(ingest_with(&app, &rotated).await, 201);
    assert_eq!(
        ingest_with(&app, &secret).await,
        201,
        "the previous secret, within its grace"
    );
    let r = send(&app, call(REVOKE, Some(&admin), None, json!({"id": id}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["revoked_at"].is_string());
    assert_eq!(ingest_with(&app, &rotated).await, 401);
    assert_eq!(
        ingest_with(&app, &secret).await,
        401,
        "revoked ends the grace too"
    );

    // The log says who did what to which key, with before and after; no secret, no hash.
    let recent = entries::recent(&pool, 20).await.unwrap();
    let of = |action: &str| {
        recent
            .iter()
            .find(|e| e.action == action && e.resource.as_ref().is_some_and(|r| r.id == id))
            .unwrap_or_else(|| panic!("an entry {action}"))
            .clone()
    };
    for action in ["key.created", "key.rotated", "key.revoked"] {
        let e = of(action);
        assert_eq!(e.source, Some(app::model::Source::Trailkeep));
        assert_eq!(e.actor.email.as_deref(), Some("ada@example.com"));
        assert_eq!(e.user_agent.as_deref(), Some("keys-test/1"));
        assert_eq!(e.resource.as_ref().unwrap().kind, "api_key");
        let text = serde_json::to_string(&e).unwrap();
        for s in [&secret, &rotated] {
            assert!(!text.contains(s.as_str()), "{action} holds a secret");
            let hash = hex::encode(trailkeep::domain::auth::sha256(s.as_bytes()));
            assert!(!text.contains(&hash), "{action} holds a secret's hash");
        }
    }
    let rotated_entry = of("key.rotated");
    let changes = &rotated_entry.details["changes"];
    assert_eq!(changes["prefix"]["before"], secret[..11]);
    assert_eq!(changes["prefix"]["after"], rotated[..11]);
    assert!(changes["previous_accepted_until"]["after"].is_string());
    assert_eq!(
        of("key.revoked").details["changes"]["status"]["after"],
        "Revoked"
    );
    assert_eq!(of("key.created").details["scopes"], json!(["ingest"]));
    // The key's own entries stay attributed to it after revocation (provenance).
    let sources: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE source_key = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(sources, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_requests_are_refused_with_words_and_change_nothing(pool: PgPool) {
    let app = common::router(&pool).await;
    let admin = signed_in(&app, &pool, "ada@example.com", Role::Admin).await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries")
        .fetch_one(&pool)
        .await
        .unwrap();
    use app::keys::KeyRefusal::*;
    let unknown = uuid::Uuid::new_v4();
    for (path, body, status, refusal) in [
        (
            CREATE,
            json!({"name": "  ", "scopes": ["read"], "expires_in_days": null}),
            400,
            NoName,
        ),
        (
            CREATE,
            json!({"name": "a\nb", "scopes": ["read"], "expires_in_days": null}),
            400,
            NameControl,
        ),
        (
            CREATE,
            json!({"name": "x".repeat(201), "scopes": ["read"], "expires_in_days": null}),
            400,
            NameTooLong,
        ),
        (
            CREATE,
            json!({"name": "x", "scopes": [], "expires_in_days": null}),
            400,
            NoScope,
        ),
        (
            CREATE,
            json!({"name": "x", "scopes": ["read"], "expires_in_days": 0}),
            400,
            ExpiryOutOfRange,
        ),
        (
            CREATE,
            json!({"name": "x", "scopes": ["read"], "expires_in_days": 3651}),
            400,
            ExpiryOutOfRange,
        ),
        (
            ROTATE,
            json!({"id": unknown, "grace_hours": 1}),
            404,
            NotFound,
        ),
        (REVOKE, json!({"id": unknown}), 404, NotFound),
    ] {
        let r = send(&app, call(path, Some(&admin), None, body.clone())).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert_eq!(error(&r), app::error::ConsoleError::Key(refusal), "{body}");
    }
    // A scope the server does not know, and a grace that is not a number of hours: the call
    // itself is refused (4xx), never a 500.
    let r = send(
        &app,
        call(
            CREATE,
            Some(&admin),
            None,
            json!({"name": "x", "scopes": ["superuser"], "expires_in_days": null}),
        ),
    )
    .await;
    assert!((400..500).contains(&r.status), "{}: {}", r.status, r.text);
    let (id, _) = accounts::create_key(&pool, "k", &[Scope::Read], &Acting::cli())
        .await
        .unwrap();
    let r = send(
        &app,
        call(
            ROTATE,
            Some(&admin),
            None,
            json!({"id": id, "grace_hours": -1}),
        ),
    )
    .await;
    assert!((400..500).contains(&r.status), "{}: {}", r.status, r.text);
    let r = send(
        &app,
        call(
            ROTATE,
            Some(&admin),
            None,
            json!({"id": id, "grace_hours": 169}),
        ),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(error(&r), app::error::ConsoleError::Key(GraceTooLong));
    // Revoked is final: a second revocation and a rotation are refused (409).
    let r = send(&app, call(REVOKE, Some(&admin), None, json!({"id": id}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for (path, body) in [
        (REVOKE, json!({"id": id})),
        (ROTATE, json!({"id": id, "grace_hours": 1})),
    ] {
        let r = send(&app, call(path, Some(&admin), None, body)).await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(error(&r), app::error::ConsoleError::Key(NotLive));
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        after,
        before + 2,
        "only the key made by the CLI and its one revocation"
    );
}

/// A rotated key's previous secret is accepted until its grace end and not a moment after,
/// an expired key never; each against a fixed clock.
#[sqlx::test(migrations = "../migrations")]
async fn a_previous_secret_lasts_until_its_grace_end_and_an_expiry_ends_a_key(pool: PgPool) {
    let t0 = Utc::now();
    let hour = chrono::Duration::hours(1);
    let spec = |name, days| keys::KeySpec {
        name,
        scopes: &[Scope::Ingest],
        expires_in_days: days,
    };
    let (key, old) = keys::create(&pool, spec("rotating", None), &Acting::cli(), t0)
        .await
        .unwrap();
    let (_, new) = keys::rotate(&pool, key.id, 2, &Acting::cli(), t0)
        .await
        .unwrap();
    let finds = |secret: String, at| {
        let pool = pool.clone();
        async move {
            keys::authenticate(&pool, &secret, at)
                .await
                .unwrap()
                .map(|k| k.id)
        }
    };
    assert_eq!(finds(old.clone(), t0 + hour).await, Some(key.id));
    assert_eq!(
        finds(old.clone(), t0 + hour * 2 - chrono::Duration::seconds(1)).await,
        Some(key.id)
    );
    assert_eq!(
        finds(old.clone(), t0 + hour * 2).await,
        None,
        "the grace end is exclusive"
    );
    assert_eq!(finds(new.clone(), t0 + hour * 1000).await, Some(key.id));
    // A second rotation ends the first one's grace at once.
    let (_, newest) = keys::rotate(&pool, key.id, 1, &Acting::cli(), t0 + hour)
        .await
        .unwrap();
    assert_eq!(finds(old.clone(), t0 + hour).await, None);
    assert_eq!(finds(new.clone(), t0 + hour).await, Some(key.id));
    assert_eq!(finds(newest, t0 + hour).await, Some(key.id));

    let (short, secret) = keys::create(&pool, spec("short", Some(1)), &Acting::cli(), t0)
        .await
        .unwrap();
    assert_eq!(finds(secret.clone(), t0 + hour * 23).await, Some(short.id));
    assert_eq!(finds(secret.clone(), t0 + hour * 24).await, None);
    // An expired key cannot be rotated back to life.
    let r = keys::rotate(&pool, short.id, 1, &Acting::cli(), t0 + hour * 25).await;
    assert!(
        matches!(
            r,
            Err(keys::KeyError::Refused(app::keys::KeyRefusal::NotLive))
        ),
        "{r:?}"
    );

    // Over HTTP with the real clock: grace 0 refuses the previous secret at once.
    let app = common::router(&pool).await;
    let (key, old) = keys::create(&pool, spec("now", None), &Acting::cli(), Utc::now())
        .await
        .unwrap();
    assert_eq!(ingest_with(&app, &old).await, 201);
    let (_, new) = keys::rotate(&pool, key.id, 0, &Acting::cli(), Utc::now())
        .await
        .unwrap();
    assert_eq!(ingest_with(&app, &old).await, 401);
    assert_eq!(ingest_with(&app, &new).await, 201);
}

/// Last use is noted, but written at most once a minute per key whatever the request rate.
#[sqlx::test(migrations = "../migrations")]
async fn last_use_is_written_at_most_once_a_minute(pool: PgPool) {
    let t0 = Utc::now();
    let (key, secret) = keys::create(
        &pool,
        keys::KeySpec {
            name: "busy",
            scopes: &[Scope::Ingest],
            expires_in_days: None,
        },
        &Acting::cli(),
        t0,
    )
    .await
    .unwrap();
    let last = || async {
        sqlx::query_scalar::<_, Option<chrono::DateTime<Utc>>>(
            "SELECT last_used_at FROM api_keys WHERE id = $1",
        )
        .bind(key.id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let round = |t: chrono::DateTime<Utc>| t.timestamp_micros();
    assert_eq!(last().await, None);
    keys::authenticate(&pool, &secret, t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last().await.map(round), Some(round(t0)));
    // Many uses within the minute: no write (the tuple's version stays the same).
    let version = || async {
        sqlx::query_scalar::<_, String>("SELECT xmin::text FROM api_keys WHERE id = $1")
            .bind(key.id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = version().await;
    for s in 1..50 {
        let at = t0 + chrono::Duration::seconds(s);
        keys::authenticate(&pool, &secret, at)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(version().await, before, "no write within the minute");
    assert_eq!(last().await.map(round), Some(round(t0)));
    let later = t0 + chrono::Duration::seconds(61);
    keys::authenticate(&pool, &secret, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last().await.map(round), Some(round(later)));
}

/// A revoked key's live socket closes at once (not at the next 15 s heartbeat), and an entry an
/// outsider sends under the same action name closes nothing.
#[sqlx::test(migrations = "../migrations")]
async fn a_revoked_keys_live_socket_closes_at_once(pool: PgPool) {
    let addr = common::serve(&pool).await;
    let watcher = common::key(&pool, &[Scope::Read]).await;
    let outsider = common::key(&pool, &[Scope::Ingest]).await;
    let mut socket = common::live(addr, &watcher, "").await;
    // Open: its status and first heartbeat.
    for _ in 0..2 {
        assert!(common::next_message(&mut socket, Duration::from_secs(10))
            .await
            .is_some());
    }
    let watcher_id = keys::resolve(&pool, &watcher[..11]).await.unwrap();
    // The outsider writes an entry that looks like a revocation of the watcher's key: a cue
    // only Trailkeep's own entries give, and even then only to check again.
    let client = reqwest_free_post(
        addr,
        &outsider,
        json!({
            "action": "key.revoked",
            "actor": {"id": "mallory"},
            "resource": {"type": "api_key", "id": watcher_id.to_string()},
        }),
    )
    .await;
    assert_eq!(client, 201);
    match common::next_message(&mut socket, Duration::from_secs(10)).await {
        Some(app::live::LiveMessage::Entry { entry }) => assert_eq!(entry.action, "key.revoked"),
        other => panic!("the outsider's entry is shown, the socket stays: {other:?}"),
    }
    let started = Instant::now();
    accounts::revoke_key(&pool, &watcher_id.to_string(), &Acting::cli())
        .await
        .unwrap();
    // What may still arrive before the close is the revocation's own entry; then the end.
    loop {
        match common::next_message(&mut socket, Duration::from_secs(20)).await {
            Some(app::live::LiveMessage::Entry { .. }) => continue,
            Some(app::live::LiveMessage::Heartbeat { .. }) => {
                panic!("a heartbeat after the revocation: the socket was not closed at once")
            }
            Some(_) => continue,
            None => break,
        }
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}

/// Posts one event to `addr` with `key` over a real connection: the status.
async fn reqwest_free_post(addr: std::net::SocketAddr, key: &str, event: Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = event.to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api/v1/events HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Whoever holds the server's role cannot bring a revoked key back, stretch a grace beyond 7
/// days, or change a key's scopes: the database refuses (migrations/0022).
#[sqlx::test(migrations = "../migrations")]
async fn the_database_keeps_a_revoked_key_revoked_whoever_writes(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let (id, _) = accounts::create_key(&pool, "k", &[Scope::Ingest], &Acting::cli())
        .await
        .unwrap();
    let attempt = |sql: &'static str| {
        let writer = writer.clone();
        async move { sqlx::query(sql).bind(id).execute(&writer).await }
    };
    for sql in [
        "UPDATE api_keys SET scopes = ARRAY['ingest','read'] WHERE id = $1",
        "UPDATE api_keys SET expires_at = NULL, created_at = now() - interval '1 day' WHERE id = $1",
        "UPDATE api_keys SET previous_hash = '\\x00', previous_prefix = 'tk_x', \
         rotated_at = now(), previous_until = now() + interval '8 days' WHERE id = $1",
    ] {
        let e = attempt(sql).await.expect_err(sql);
        assert!(e.to_string().contains("violates") || e.to_string().contains("never change"), "{sql}: {e}");
    }
    accounts::revoke_key(&pool, &id.to_string(), &Acting::cli())
        .await
        .unwrap();
    for sql in [
        "UPDATE api_keys SET revoked_at = NULL WHERE id = $1",
        "UPDATE api_keys SET key_hash = '\\x01' WHERE id = $1",
        "UPDATE api_keys SET revoked_at = now() + interval '1 year' WHERE id = $1",
    ] {
        let e = attempt(sql).await.expect_err(sql);
        assert!(e.to_string().contains("stays revoked"), "{sql}: {e}");
    }
    let e = attempt("DELETE FROM api_keys WHERE id = $1")
        .await
        .expect_err("no DELETE");
    assert!(e.to_string().contains("permission denied"), "{e}");
}
