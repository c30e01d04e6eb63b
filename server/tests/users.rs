//! Users managed from the console (issue 25, item 2 without invitations), against real
//! PostgreSQL: who may list and change users (admins change, compliance officers only list;
//! members and API keys are refused), the entry each change writes, the last active admin kept
//! even when two admins demote or deactivate each other at the same moment, and a deactivated
//! user's session and live socket ended at once.

mod common;

use std::time::{Duration, Instant};

use app::error::ConsoleError;
use app::keys::Scope;
use app::model::Role;
use app::users::UserRefusal;
use axum::{body::Body, http::Request, Router};
use common::console::{call, error, PASSWORD};
use common::send;
use leptos::server_fn::ServerFn;
use serde_json::json;
use sqlx::PgPool;
use trailkeep::{
    service::{
        accounts::{self, Acting},
        users,
    },
    storage::entries,
};
use uuid::Uuid;

async fn make(pool: &PgPool, email: &str, role: Role) -> Uuid {
    accounts::create_user(pool, email, "Test User", role, PASSWORD, &Acting::cli())
        .await
        .unwrap()
}

async fn sign_in(app: &Router, email: &str) -> String {
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

const LIST: &str = <app::api::users::ListUsers as ServerFn>::PATH;
const ROLE: &str = <app::api::users::ChangeRole as ServerFn>::PATH;
const ACTIVE: &str = <app::api::users::SetUserActive as ServerFn>::PATH;

#[sqlx::test(migrations = "../migrations")]
async fn admins_change_users_compliance_looks_and_nobody_else_gets_in(pool: PgPool) {
    let app = common::router(&pool).await;
    make(&pool, "ada@example.com", Role::Admin).await;
    make(&pool, "cy@example.com", Role::Compliance).await;
    make(&pool, "mel@example.com", Role::Member).await;
    let target = make(&pool, "tom@example.com", Role::Member).await;
    let admin = sign_in(&app, "ada@example.com").await;
    let compliance = sign_in(&app, "cy@example.com").await;
    let member = sign_in(&app, "mel@example.com").await;
    let key = common::key(&pool, &[Scope::Ingest, Scope::Read]).await;

    // Listing: admins and compliance officers; never a password hash; last sign-in noted.
    for cookie in [&admin, &compliance] {
        let r = send(&app, call(LIST, Some(cookie), None, json!({}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body.as_array().unwrap().len(), 4);
        assert!(!r.text.contains("argon2"), "no password hash in the answer");
        let ada = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "ada@example.com")
            .unwrap();
        assert!(ada["last_sign_in_at"].is_string());
        let tom = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "tom@example.com")
            .unwrap();
        assert!(tom["last_sign_in_at"].is_null());
    }
    let r = send(&app, call(LIST, Some(&member), None, json!({}))).await;
    assert_eq!(r.status, 403, "{}", r.text);
    // Changes: admins only; a key of any scope and nobody cannot call at all.
    let changes = [
        (ROLE, json!({"id": target, "role": "compliance"})),
        (ACTIVE, json!({"id": target, "active": false})),
    ];
    for (path, body) in &changes {
        for cookie in [&compliance, &member] {
            let r = send(&app, call(path, Some(cookie), None, body.clone())).await;
            assert_eq!(r.status, 403, "{path}: {}", r.text);
            assert_eq!(error(&r), ConsoleError::AdminOnly);
        }
        for bearer in [Some(key.as_str()), None] {
            let r = send(&app, call(path, None, bearer, body.clone())).await;
            assert_eq!(r.status, 401, "{path}: {}", r.text);
        }
    }
    let r = send(&app, call(LIST, None, Some(&key), json!({}))).await;
    assert_eq!(r.status, 401, "{}", r.text);

    // The admin changes tom's role, deactivates and reactivates him; each is recorded.
    let tom = sign_in(&app, "tom@example.com").await;
    let r = send(
        &app,
        call(
            ROLE,
            Some(&admin),
            None,
            json!({"id": target, "role": "compliance"}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["role"], "compliance");
    // His session ended with the role it was opened under.
    let r = send(&app, call(LIST, Some(&tom), None, json!({}))).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let tom = sign_in(&app, "tom@example.com").await;
    let r = send(
        &app,
        call(
            ACTIVE,
            Some(&admin),
            None,
            json!({"id": target, "active": false}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["deactivated_at"].is_string());
    let r = send(&app, call(LIST, Some(&tom), None, json!({}))).await;
    assert_eq!(
        r.status, 401,
        "a deactivated user's session ends: {}",
        r.text
    );
    let again = send(
        &app,
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "trailkeep.test")
            .body(Body::from(
                serde_urlencoded::to_string([("email", "tom@example.com"), ("password", PASSWORD)])
                    .unwrap(),
            ))
            .unwrap(),
    )
    .await;
    assert!(
        again.headers.get("set-cookie").is_none(),
        "a deactivated user cannot sign in"
    );
    // Twice is refused in words; reactivation lets him in again.
    let r = send(
        &app,
        call(
            ACTIVE,
            Some(&admin),
            None,
            json!({"id": target, "active": false}),
        ),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(error(&r), ConsoleError::User(UserRefusal::Unchanged));
    let r = send(
        &app,
        call(
            ACTIVE,
            Some(&admin),
            None,
            json!({"id": target, "active": true}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    sign_in(&app, "tom@example.com").await;
    let r = send(
        &app,
        call(
            ROLE,
            Some(&admin),
            None,
            json!({"id": Uuid::new_v4(), "role": "member"}),
        ),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = send(
        &app,
        call(
            ROLE,
            Some(&admin),
            None,
            json!({"id": target, "role": "owner"}),
        ),
    )
    .await;
    assert_eq!(r.status, 400, "a role the server does not know: {}", r.text);

    let recent = entries::recent(&pool, 30).await.unwrap();
    let of = |action: &str| {
        recent
            .iter()
            .find(|e| {
                e.action == action
                    && e.resource
                        .as_ref()
                        .is_some_and(|r| r.id == target.to_string())
            })
            .unwrap_or_else(|| panic!("an entry {action}"))
            .clone()
    };
    let changed = of("user.role_changed");
    assert_eq!(
        changed.details["changes"]["role"],
        json!({"before": "member", "after": "compliance"})
    );
    assert_eq!(changed.actor.email.as_deref(), Some("ada@example.com"));
    assert_eq!(changed.source, Some(app::model::Source::Trailkeep));
    assert_eq!(
        of("user.deactivated").details["changes"]["status"]["after"],
        "deactivated"
    );
    assert_eq!(
        of("user.reactivated").details["changes"]["status"]["after"],
        "active"
    );
}

/// Two admins demote (or deactivate) each other at the same moment: one change wins, the
/// other is refused, and an active admin remains. Repeated, so the race is really run.
#[sqlx::test(migrations = "../migrations")]
async fn two_admins_removing_each_other_at_once_leave_one(pool: PgPool) {
    for round in 0..10 {
        let a = make(&pool, &format!("a{round}@example.com"), Role::Admin).await;
        let b = make(&pool, &format!("b{round}@example.com"), Role::Admin).await;
        // Only these two are admins this round.
        sqlx::query("UPDATE users SET role = 'member' WHERE role = 'admin' AND id <> ALL($1)")
            .bind(vec![a, b])
            .execute(&pool)
            .await
            .unwrap();
        let (by_a, by_b) = (Acting::cli(), Acting::cli());
        let (x, y) = if round % 2 == 0 {
            tokio::join!(
                users::change_role(&pool, b, Role::Member, &by_a),
                users::change_role(&pool, a, Role::Compliance, &by_b),
            )
        } else {
            let now = chrono::Utc::now();
            tokio::join!(
                users::deactivate(&pool, b, &by_a, now),
                users::deactivate(&pool, a, &by_b, now),
            )
        };
        let refused = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Err(users::UserError::Refused(UserRefusal::LastAdmin))))
            .count();
        assert_eq!(refused, 1, "round {round}: {x:?} / {y:?}");
        assert_eq!(
            [&x, &y].iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}"
        );
        let admins: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE role = 'admin' AND deactivated_at IS NULL",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(admins, 1, "round {round}");
    }
    // The CLI keeps the last admin too.
    let admin: String = sqlx::query_scalar(
        "SELECT email FROM users WHERE role = 'admin' AND deactivated_at IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let e = accounts::set_role(&pool, &admin, Role::Member, &Acting::cli())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("last active admin"), "{e}");
}

/// A deactivated user's live socket closes at once, not at its next heartbeat.
#[sqlx::test(migrations = "../migrations")]
async fn a_deactivated_users_live_socket_closes_at_once(pool: PgPool) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    make(&pool, "ada@example.com", Role::Admin).await;
    let watcher = make(&pool, "cy@example.com", Role::Compliance).await;
    let app = common::router(&pool).await;
    let cookie = sign_in(&app, "cy@example.com").await;
    let addr = common::serve_router(app).await;
    let mut request = format!("ws://{addr}/api/v1/live")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", format!("http://{addr}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for _ in 0..2 {
        assert!(common::next_message(&mut socket, Duration::from_secs(10))
            .await
            .is_some());
    }
    let started = Instant::now();
    users::deactivate(&pool, watcher, &Acting::cli(), chrono::Utc::now())
        .await
        .unwrap();
    loop {
        match common::next_message(&mut socket, Duration::from_secs(20)).await {
            Some(app::live::LiveMessage::Heartbeat { .. }) => {
                panic!("a heartbeat after the deactivation: the socket was not closed at once")
            }
            Some(_) => continue,
            None => break,
        }
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}
