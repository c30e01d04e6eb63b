//! Users, sessions and the console guard, over HTTP against real PostgreSQL.

mod common;

use app::model::Role;
use axum::{body::Body, http::Request};
use common::{router, send, Reply};
use sqlx::PgPool;
use trailkeep::{
    service::accounts::{self, Acting, SignIn, SignInLimits},
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
    // The page is told when the lock is near, and for how long it locks (the same for an email
    // no account has: the warning tells nothing about which accounts exist).
    for email in ["ada@example.com", "nobody@example.com"] {
        let mut codes = Vec::new();
        for _ in 0..5 {
            let r = send(&app, login(email, "wrong-password", None)).await;
            let at = location(&r);
            codes.push(at[at.find("error=").unwrap() + 6..].to_string());
        }
        assert_eq!(
            codes,
            [
                "credentials",
                "credentials",
                "credentials",
                "credentials-1&lock=15",
                "credentials-0&lock=15"
            ],
            "{email}"
        );
    }
    // Even the right password is refused now, and the refusal is recorded.
    let r = send(&app, login("ada@example.com", PASSWORD, None)).await;
    assert!(location(&r).ends_with("error=locked"), "{}", location(&r));
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

/// Events an API key sends cannot lock anyone out: not even five `user.login_failed` for the
/// admin dated in 2099.
#[sqlx::test(migrations = "../migrations")]
async fn forged_failures_from_ingest_lock_nobody(pool: PgPool) {
    user(&pool, "admin@company.com", Role::Admin).await;
    let forged: Vec<_> = (0..5)
        .map(|_| {
            serde_json::json!({"action": "user.login_failed",
            "actor": {"id": "x", "email": "admin@company.com"},
            "occurred_at": "2099-01-01T00:00:00Z", "details": {"reason": "bad_password"}})
        })
        .collect();
    entries::append(
        &pool,
        app::model::Source::Trailkeep,
        trailkeep::domain::entry::event::parse_batch(&serde_json::Value::Array(forged)).unwrap(),
    )
    .await
    .unwrap();
    let app = router(&pool).await;
    let r = send(&app, login("admin@company.com", PASSWORD, None)).await;
    assert_eq!(location(&r), "/audit?x=1");
    assert!(r.headers.get("set-cookie").is_some());
}

/// Sixty guesses at once get exactly the allowed five password checks; the rest are refused
/// as locked without one.
#[sqlx::test(migrations = "../migrations")]
async fn parallel_guesses_get_exactly_the_allowed_tries(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let guesses = (0..60).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            accounts::sign_in(
                &pool,
                "ada@example.com",
                &format!("wrong-{i}"),
                None,
                None,
                SignInLimits::default(),
            )
            .await
            .unwrap()
        })
    });
    let outcomes = futures::future::join_all(guesses).await;
    let checked = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap(), SignIn::BadCredentials { .. }))
        .count();
    let locked = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap(), SignIn::LockedOut))
        .count();
    assert_eq!((checked, locked), (5, 55));
}

/// One address that keeps failing is not heard for the window, whatever email it tries; other
/// addresses are unaffected. Throttled attempts add nothing to the log.
#[sqlx::test(migrations = "../migrations")]
async fn one_address_is_throttled_after_its_failures(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let limits = SignInLimits {
        ip_failures: 3,
        ..SignInLimits::default()
    };
    let attacker: std::net::IpAddr = "198.51.100.9".parse().unwrap();
    for i in 0..3 {
        let outcome = accounts::sign_in(
            &pool,
            &format!("guess{i}@example.com"),
            "nope",
            Some(attacker),
            None,
            limits,
        )
        .await
        .unwrap();
        assert!(matches!(outcome, SignIn::BadCredentials { .. }));
    }
    let before = entries::count_all(&pool).await.unwrap();
    let outcome = accounts::sign_in(
        &pool,
        "ada@example.com",
        PASSWORD,
        Some(attacker),
        None,
        limits,
    )
    .await
    .unwrap();
    assert!(matches!(outcome, SignIn::Throttled));
    assert_eq!(entries::count_all(&pool).await.unwrap(), before);
    let elsewhere = Some("203.0.113.5".parse().unwrap());
    let outcome = accounts::sign_in(&pool, "ada@example.com", PASSWORD, elsewhere, None, limits)
        .await
        .unwrap();
    assert!(matches!(outcome, SignIn::Ok { .. }));
}

/// A password typed into the email field is neither stored in the log nor sent back in the
/// redirect; an unknown address is kept, bounded.
#[sqlx::test(migrations = "../migrations")]
async fn what_was_typed_is_never_echoed_and_never_stored_unless_an_address(pool: PgPool) {
    let app = router(&pool).await;
    let r = send(&app, login("correct horse battery staple", "x", None)).await;
    assert!(!location(&r).contains("horse"), "{}", location(&r));
    let last = entries::recent(&pool, 1).await.unwrap().remove(0);
    assert_eq!(last.action, "user.login_failed");
    assert!(!serde_json::to_string(&last).unwrap().contains("horse"));
    assert_eq!(last.actor.email, None);

    let long = format!("{}@example.com", "a".repeat(300));
    send(&app, login(&long, "x", None)).await;
    let last = entries::recent(&pool, 1).await.unwrap().remove(0);
    assert_eq!(
        last.actor.email, None,
        "over 254 characters is not an address"
    );

    send(&app, login("Mallory@Example.com", "x", None)).await;
    let last = entries::recent(&pool, 1).await.unwrap().remove(0);
    assert_eq!(last.actor.email.as_deref(), Some("mallory@example.com"));
    assert_eq!(last.details["reason"], "unknown_user");
}

/// Sign-ins hash on the blocking pool: a burst of 64 does not hold up other requests, which
/// are answered while the burst's password checks (two at a time) are still queued. How fast
/// they are answered is a benchmark (`trailkeep-bench sign-in`), not a test.
#[sqlx::test(migrations = "../migrations")]
async fn a_burst_of_sign_ins_does_not_stall_other_requests(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let app = router(&pool).await;
    let burst: Vec<_> = (0..64)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                send(&app, login(&format!("user{i}@example.com"), "wrong", None)).await
            })
        })
        .collect();
    // The burst is under way once its first sign-in has been answered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !burst.iter().any(|b| b.is_finished()) {
        assert!(std::time::Instant::now() < deadline, "no sign-in answered");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for _ in 0..5 {
        let r = send(&app, get("/healthz", None)).await;
        assert_eq!(r.status, 200);
    }
    let pending = burst.iter().filter(|b| !b.is_finished()).count();
    assert!(
        pending > 0,
        "/healthz was answered only once the whole burst was"
    );
    for b in burst {
        b.await.unwrap();
    }
}

/// A role change ends the user's sessions: nobody keeps browsing under the role they had.
#[sqlx::test(migrations = "../migrations")]
async fn a_role_change_ends_the_users_sessions(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    // Another admin: the last active admin is never demoted (tests/users.rs).
    user(&pool, "bob@example.com", Role::Admin).await;
    let app = router(&pool).await;
    let r = send(&app, login("ada@example.com", PASSWORD, None)).await;
    let cookie = session_cookie(&r);
    assert_eq!(send(&app, get("/audit", Some(&cookie))).await.status, 200);
    accounts::set_role(&pool, "ada@example.com", Role::Member, &Acting::cli())
        .await
        .unwrap();
    let r = send(&app, get("/audit", Some(&cookie))).await;
    assert_eq!(r.status, 303);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
}

/// A console page allows only its own hydration scripts (by a nonce that changes with each
/// response); every response refuses sniffing, framing and cross-site referrers.
#[sqlx::test(migrations = "../migrations")]
async fn pages_carry_a_nonce_policy_and_every_response_the_safety_headers(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let app = router(&pool).await;
    let cookie = session_cookie(&send(&app, login("ada@example.com", PASSWORD, None)).await);
    let nonce_of = |r: &Reply| -> String {
        let csp = r.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            !csp.contains("'unsafe-inline' 'self'")
                && !csp.contains("script-src 'self' 'unsafe-inline'"),
            "{csp}"
        );
        let at = csp.find("'nonce-").expect("a page policy has a nonce") + "'nonce-".len();
        csp[at..at + csp[at..].find('\'').unwrap()].to_string()
    };
    let first = send(&app, get("/audit", Some(&cookie))).await;
    assert_eq!(first.status, 200);
    let nonce = nonce_of(&first);
    assert!(nonce.len() >= 16, "{nonce}");
    // Every inline script of the page carries it.
    let scripts = first.text.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        first.text.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{}",
        first.text
    );
    let second = send(&app, get("/audit", Some(&cookie))).await;
    assert_ne!(nonce_of(&second), nonce);
    for r in [
        &first,
        &send(&app, get("/api/v1/events", None)).await,
        &send(&app, get("/login", None)).await,
    ] {
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert_eq!(r.headers["referrer-policy"], "same-origin");
        assert_eq!(r.headers["x-frame-options"], "DENY");
        assert!(r.headers.contains_key("content-security-policy"));
    }
}

/// No page or answer stays in the browser's cache (issue 24, D2): after Sign out, Back asks the
/// server again and gets the sign-in page instead of the log a shared workstation still held.
#[sqlx::test(migrations = "../migrations")]
async fn pages_and_log_answers_are_never_cached(pool: PgPool) {
    user(&pool, "ada@example.com", Role::Admin).await;
    let app = router(&pool).await;
    let cookie = session_cookie(&send(&app, login("ada@example.com", PASSWORD, None)).await);
    let reader = common::key(&pool, &[trailkeep::domain::auth::Scope::Read]).await;
    let with_key = |path: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {reader}"))
            .body(Body::empty())
            .unwrap()
    };
    for (what, r) in [
        (
            "console page",
            send(&app, get("/audit", Some(&cookie))).await,
        ),
        ("sign-in page", send(&app, get("/login", None)).await),
        ("entries", send(&app, with_key("/api/v1/events")).await),
        ("count", send(&app, with_key("/api/v1/events/count")).await),
        (
            "export",
            send(&app, with_key("/api/v1/events/export?format=csv")).await,
        ),
        ("refused", send(&app, get("/api/v1/events", None)).await),
    ] {
        assert!(r.status < 500, "{what}: {}", r.status);
        assert_eq!(r.headers["cache-control"], "no-store", "{what}");
    }
    // Signed out, the console page sends the browser to sign in (what Back then shows).
    let out = send(
        &app,
        Request::post("/logout")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(out.status, 303, "sign out");
    let after = send(&app, get("/audit", Some(&cookie))).await;
    assert_eq!(after.status, 303, "{}", after.text);
    assert!(
        location(&after).starts_with("/login"),
        "{}",
        location(&after)
    );
}

/// A console server function called without a session answers with the console's own error,
/// which the page reads as "your session ended" (not a JSON it cannot decode, which it took for
/// a network failure and retried for ever).
#[sqlx::test(migrations = "../migrations")]
async fn a_server_function_without_a_session_answers_signed_out(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    let app = router(&pool).await;
    let r = send(
        &app,
        Request::post(<app::api::Whoami as ServerFn>::PATH)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.text, "\"SignedOut\"");
}

/// `/readyz` asks the database and the schema; `/healthz` only the process. Both are public.
#[sqlx::test(migrations = "../migrations")]
async fn probes_say_whether_the_server_can_work(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let app = common::router_on(&writer).await;
    let r = send(&app, get("/healthz", None)).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ok"));
    let r = send(&app, get("/readyz", None)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["database"], "ok");
    assert_eq!(r.body["migrations"], "current");
    assert_eq!(r.body["merkle_tree"], "growing");
    assert_eq!(r.body["integrity"], "ok");
    assert_eq!(r.body["ready"], true);
    // A database that cannot be reached makes the server not ready, with a 503 that says why.
    writer.close().await;
    let r = send(&app, get("/readyz", None)).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["database"], "unreachable");
    assert_eq!(r.body["merkle_tree"], "unknown");
}

/// Saved searches through the console's server functions, as two readers and a member: a
/// private one is nobody else's to see, open or delete; a shared one every reader sees; each
/// refusal is a 4xx naming why.
#[sqlx::test(migrations = "../migrations")]
async fn saved_searches_are_private_unless_shared_and_deleted_only_by_their_owner(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    use serde_json::json;
    user(&pool, "ada@example.com", Role::Compliance).await;
    user(&pool, "bob@example.com", Role::Admin).await;
    user(&pool, "mel@example.com", Role::Member).await;
    let app = router(&pool).await;
    let mut cookies = Vec::new();
    for email in ["ada@example.com", "bob@example.com", "mel@example.com"] {
        cookies.push(session_cookie(
            &send(&app, login(email, PASSWORD, None)).await,
        ));
    }
    let (ada, bob, mel) = (&cookies[0], &cookies[1], &cookies[2]);
    let call = |path: &str, cookie: &str, body: serde_json::Value| {
        Request::post(path)
            .header("cookie", cookie)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let save = <app::api::SaveSearch as ServerFn>::PATH;
    let list = <app::api::ListSavedSearches as ServerFn>::PATH;
    let open = <app::api::OpenSavedSearch as ServerFn>::PATH;
    let delete = <app::api::DeleteSavedSearch as ServerFn>::PATH;

    let r = send(
        &app,
        call(
            save,
            ada,
            json!({"name": " Failures ", "filter": "status=failure", "shared": false}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Failures");
    let private = r.body["id"].as_str().unwrap().to_string();
    let r = send(
        &app,
        call(
            save,
            ada,
            json!({"name": "Config", "filter": "action=config.*&range=7d", "shared": true}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let shared = r.body["id"].as_str().unwrap().to_string();

    // Refusals: a taken name (409), an empty or multi-line name, a bad filter (400).
    for (body, status, said) in [
        (
            json!({"name": "Failures", "filter": "", "shared": false}),
            409,
            "DuplicateName",
        ),
        (
            json!({"name": "  ", "filter": "", "shared": false}),
            400,
            "NoName",
        ),
        (
            json!({"name": "a\nb", "filter": "", "shared": false}),
            400,
            "NameControl",
        ),
        (
            json!({"name": "x".repeat(101), "filter": "", "shared": false}),
            400,
            "NameTooLong",
        ),
        (
            json!({"name": "bad", "filter": "status=maybe", "shared": false}),
            400,
            "BadFilter",
        ),
    ] {
        let r = send(&app, call(save, ada, body.clone())).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert!(r.text.contains(said), "{body}: {}", r.text);
    }

    // Bob sees the shared one only; the private one is not his to open or delete.
    let r = send(&app, call(list, bob, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Config"]);
    assert_eq!(r.body[0]["mine"], false);
    assert_eq!(r.body[0]["owner_name"], "Test User");
    let r = send(&app, call(open, bob, json!({"id": private}))).await;
    assert_eq!(r.status, 404, "{}", r.text);
    for id in [&private, &shared] {
        let r = send(&app, call(delete, bob, json!({"id": id}))).await;
        assert_eq!(r.status, 404, "{}", r.text);
    }
    let r = send(&app, call(open, bob, json!({"id": shared}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["filter"], "action=config.*&range=7d");

    // A member reads no log, so no saved search either.
    for (path, body) in [(list, json!({})), (open, json!({"id": shared}))] {
        let r = send(&app, call(path, mel, body)).await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
    let r = send(
        &app,
        call(
            save,
            mel,
            json!({"name": "m", "filter": "", "shared": true}),
        ),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // Ada sees both, hers first; she deletes the shared one and it is gone for Bob.
    let r = send(&app, call(list, ada, json!({}))).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = send(&app, call(delete, ada, json!({"id": shared}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&app, call(open, bob, json!({"id": shared}))).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // At most 100 per reader, however fast they are asked for.
    let mut saves = Vec::new();
    for i in 0..110 {
        saves.push(send(
            &app,
            call(
                save,
                bob,
                json!({"name": format!("s{i}"), "filter": "", "shared": false}),
            ),
        ));
    }
    let answers = futures::future::join_all(saves).await;
    let saved = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(saved, 100);
    assert!(answers
        .iter()
        .filter(|r| r.status != 200)
        .all(|r| r.status == 409 && r.text.contains("TooMany")));
}
