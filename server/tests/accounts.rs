//! Users, sessions and the console guard, over HTTP against real PostgreSQL.

mod common;

use app::model::Role;
use axum::{body::Body, http::Request};
use common::{router, send, Reply};
use sqlx::PgPool;
use trailkeep::{
    service::accounts::{self, Acting},
    storage::entries,
};

const PASSWORD: &str = "correct horse battery";

async fn user(pool: &PgPool, email: &str, role: Role) {
    accounts::create_user(pool, email, "Test User", role, PASSWORD, &Acting::cli())
        .await
        .unwrap();
}

fn login(email: &str, password: &str, origin: Option<&str>) -> Request<Body> {
    let body = serde_urlencoded::to_string([
        ("email", email),
        ("password", password),
        ("next", "/audit?x=1"),
    ])
    .unwrap();
    let mut b = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "trailkeep.test")
        .header("user-agent", "test-agent/1");
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    b.body(Body::from(body)).unwrap()
}

fn location(r: &Reply) -> String {
    r.headers["location"].to_str().unwrap().to_string()
}

fn session_cookie(r: &Reply) -> String {
    let c = r.headers["set-cookie"].to_str().unwrap().to_string();
    c.split(';').next().unwrap().to_string()
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(Body::empty()).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_in_sets_a_strict_cookie_and_records_it(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let app = router(&pool).await;
    let r = send(
        &app,
        login("ADA@example.com", PASSWORD, Some("http://trailkeep.test")),
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/audit?x=1");
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    for part in [
        "trailkeep_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let last = entries::recent(&pool, 1).await.unwrap().remove(0);
    assert_eq!(last.action, "user.login");
    assert_eq!(last.actor.email.as_deref(), Some("ada@example.com"));
    assert_eq!(last.user_agent.as_deref(), Some("test-agent/1"));

    // The session opens the console, rendered on the server with the entries in it.
    let page = send(&app, get("/audit", Some(&session_cookie(&r)))).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("entry-table"), "{}", page.text);
    assert!(page.text.contains("user.login"));
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_password_is_refused_and_recorded_without_the_password(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let app = router(&pool).await;
    let r = send(&app, login("ada@example.com", "hunter2-wrong", None)).await;
    assert_eq!(r.status, 303);
    assert!(location(&r).starts_with("/login?"), "{}", location(&r));
    assert!(location(&r).contains("error="));
    assert!(r.headers.get("set-cookie").is_none());
    let last = entries::recent(&pool, 1).await.unwrap().remove(0);
    assert_eq!(last.action, "user.login_failed");
    assert_eq!(last.status, app::model::Status::Failure);
    assert!(!serde_json::to_string(&last).unwrap().contains("hunter2"));
}

#[sqlx::test(migrations = "../migrations")]
async fn five_failures_lock_the_account(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let app = router(&pool).await;
    for _ in 0..5 {
        send(&app, login("ada@example.com", "wrong-password", None)).await;
    }
    // Even the right password is refused now, and the refusal is recorded.
    let r = send(&app, login("ada@example.com", PASSWORD, None)).await;
    assert!(location(&r).contains("Too+many"), "{}", location(&r));
    assert!(r.headers.get("set-cookie").is_none());
    let last = entries::recent(&pool, 1).await.unwrap().remove(0);
    assert_eq!(last.action, "user.login_failed");
    assert_eq!(last.details["reason"], "locked_out");
}

#[sqlx::test(migrations = "../migrations")]
async fn cross_site_posts_are_refused(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let app = router(&pool).await;
    let r = send(
        &app,
        login("ada@example.com", PASSWORD, Some("https://evil.test")),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body["error"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn signed_out_visitors_are_sent_to_login_with_next(pool: PgPool) {
    let app = router(&pool).await;
    let r = send(&app, get("/audit?action=config.*", None)).await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/login?next=%2Faudit%3Faction%3Dconfig.*");
    let r = send(&app, get("/audit", Some("trailkeep_session=0000000000000000000000000000000000000000000000000000000000000000"))).await;
    assert_eq!(r.status, 303);
    let r = send(&app, get("/login", None)).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Sign in"));
}

#[sqlx::test(migrations = "../migrations")]
async fn members_see_no_audit_entries(pool: PgPool) {
    user(&pool, "mo@example.com", Role::Member).await;
    let app = router(&pool).await;
    let r = send(&app, login("mo@example.com", PASSWORD, None)).await;
    let page = send(&app, get("/audit", Some(&session_cookie(&r)))).await;
    assert!(page.text.contains("No access"), "{}", page.text);
    assert!(!page.text.contains("entry-table"));
}

#[sqlx::test(migrations = "../migrations")]
async fn logout_ends_the_session_and_is_recorded(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Compliance).await;
    let app = router(&pool).await;
    let r = send(&app, login("ada@example.com", PASSWORD, None)).await;
    let cookie = session_cookie(&r);
    let out = send(
        &app,
        Request::post("/logout")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(out.status, 303);
    assert!(out.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        entries::recent(&pool, 1).await.unwrap().remove(0).action,
        "user.logout"
    );
    let page = send(&app, get("/audit", Some(&cookie))).await;
    assert_eq!(page.status, 303, "the old cookie no longer works");
}

#[sqlx::test(migrations = "../migrations")]
async fn account_changes_are_audited(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Member).await;
    accounts::set_role(&pool, "ada@example.com", Role::Compliance, &Acting::cli())
        .await
        .unwrap();
    let recent = entries::recent(&pool, 2).await.unwrap();
    assert_eq!(recent[0].action, "user.role_changed");
    assert_eq!(recent[0].details["changes"]["role"]["before"], "member");
    assert_eq!(recent[0].details["changes"]["role"]["after"], "compliance");
    assert_eq!(recent[1].action, "user.invited");
    assert!(accounts::create_user(
        &pool,
        "ada@example.com",
        "Dup",
        Role::Admin,
        PASSWORD,
        &Acting::cli()
    )
    .await
    .is_err());
    assert!(accounts::create_user(
        &pool,
        "x@example.com",
        "Short",
        Role::Admin,
        "short",
        &Acting::cli()
    )
    .await
    .is_err());
}
