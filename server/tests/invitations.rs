//! Invitations (issue 25, item 2), against real PostgreSQL: only admins invite (compliance,
//! members, API keys and nobody are refused), the invitee reads and accepts without a session
//! with the token alone, a link works once (also when two tabs accept at the same moment) and
//! not after it expires (fixed clock) or is replaced, a password that breaks the rules leaves
//! the link usable, and no token or hash ever reaches an entry or an answer but the first.

mod common;

use app::error::ConsoleError;
use app::invitations::InviteRefusal;
use app::keys::Scope;
use app::model::Role;
use axum::{body::Body, http::Request, Router};
use chrono::{Duration, Utc};
use common::console::{error, PASSWORD};
use common::send;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::{
    service::{
        accounts::{self, Acting},
        invitations,
    },
    storage::entries,
};

const CHOSEN: &str = "otter lantern quarry";
const HOURS_72: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

async fn sign_in(app: &Router, email: &str, password: &str) -> Option<String> {
    let body = serde_urlencoded::to_string([("email", email), ("password", password)]).unwrap();
    let r = send(
        app,
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "trailkeep.test")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    r.headers
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
}

fn call(path: &str, cookie: Option<&str>, bearer: Option<&str>, body: Value) -> Request<Body> {
    let mut b = Request::post(path)
        .header("content-type", "application/json")
        .header("user-agent", "invitee-browser/1");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    if let Some(k) = bearer {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

const INVITE: &str = <app::api::invitations::InviteUser as ServerFn>::PATH;
const PENDING: &str = <app::api::invitations::PendingInvitations as ServerFn>::PATH;
const READ: &str = <app::api::invitations::ReadInvitation as ServerFn>::PATH;
const ACCEPT: &str = <app::api::invitations::AcceptInvitation as ServerFn>::PATH;

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_invites_and_the_invitee_joins_once_with_a_password_of_their_own(pool: PgPool) {
    let app = common::router(&pool).await;
    for (email, role) in [
        ("ada@example.com", Role::Admin),
        ("cy@example.com", Role::Compliance),
        ("mel@example.com", Role::Member),
    ] {
        accounts::create_user(&pool, email, "Test User", role, PASSWORD, &Acting::cli())
            .await
            .unwrap();
    }
    let admin = sign_in(&app, "ada@example.com", PASSWORD).await.unwrap();
    let compliance = sign_in(&app, "cy@example.com", PASSWORD).await.unwrap();
    let member = sign_in(&app, "mel@example.com", PASSWORD).await.unwrap();
    let key = common::key(&pool, &[Scope::Ingest, Scope::Read]).await;
    let asked = json!({"email": "pat@example.com", "name": "Pat Lee", "role": "compliance"});

    // Only admins invite; compliance officers see the pending ones; nobody else gets in.
    for cookie in [&compliance, &member] {
        let r = send(&app, call(INVITE, Some(cookie), None, asked.clone())).await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
    for bearer in [Some(key.as_str()), None] {
        let r = send(&app, call(INVITE, None, bearer, asked.clone())).await;
        assert_eq!(r.status, 401, "{}", r.text);
        let r = send(&app, call(PENDING, None, bearer, json!({}))).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let r = send(&app, call(PENDING, Some(&member), None, json!({}))).await;
    assert_eq!(r.status, 403, "{}", r.text);
    // Bad requests say what to fix.
    for (body, refusal) in [
        (
            json!({"email": "not-an-email", "name": "P", "role": "member"}),
            InviteRefusal::BadEmail,
        ),
        (
            json!({"email": "p@example.com", "name": " ", "role": "member"}),
            InviteRefusal::NoName,
        ),
        (
            json!({"email": "CY@example.com", "name": "Cy", "role": "member"}),
            InviteRefusal::AlreadyUser,
        ),
    ] {
        let r = send(&app, call(INVITE, Some(&admin), None, body.clone())).await;
        assert!((400..500).contains(&r.status), "{body}: {}", r.text);
        assert_eq!(error(&r), ConsoleError::Invite(refusal), "{body}");
    }

    let r = send(&app, call(INVITE, Some(&admin), None, asked.clone())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    assert!(app::invitations::token_shape(&token), "{token}");
    let expires: chrono::DateTime<Utc> = r.body["invitation"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let hours = (expires - Utc::now()).num_minutes() as f64 / 60.0;
    assert!(
        (71.9..=72.0).contains(&hours),
        "valid for 72 h by default: {hours}"
    );
    let r = send(&app, call(PENDING, Some(&compliance), None, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[0]["email"], "pat@example.com");
    assert_eq!(r.body[0]["invited_by"], "ada@example.com");
    assert!(!r.text.contains(&token), "the token is shown once");

    // The invitee, with no session: reads it, then a refused password keeps the link usable.
    let r = send(&app, call(READ, None, None, json!({"token": token}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["email"], "pat@example.com");
    assert_eq!(r.body["role"], "compliance");
    for (password, refusal) in [
        ("short", InviteRefusal::PasswordTooShort),
        ("password1234", InviteRefusal::PasswordCommon),
        ("pat@example.com", InviteRefusal::PasswordIsEmail),
    ] {
        let r = send(
            &app,
            call(
                ACCEPT,
                None,
                None,
                json!({"token": token, "password": password}),
            ),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(error(&r), ConsoleError::Invite(refusal));
    }
    let r = send(
        &app,
        call(
            ACCEPT,
            None,
            None,
            json!({"token": token, "password": CHOSEN}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Once: the link, and anything like it, answers the same refusal.
    for t in [
        token.clone(),
        format!("tki_{}", "0".repeat(64)),
        "junk".into(),
    ] {
        for (path, body) in [
            (READ, json!({"token": t})),
            (ACCEPT, json!({"token": t, "password": CHOSEN})),
        ] {
            let r = send(&app, call(path, None, None, body)).await;
            assert_eq!(r.status, 404, "{}", r.text);
            assert_eq!(error(&r), ConsoleError::Invite(InviteRefusal::NotValid));
        }
    }
    // The new user signs in with the password they chose, in the role they were given.
    assert!(sign_in(&app, "pat@example.com", CHOSEN).await.is_some());
    let r = send(&app, call(PENDING, Some(&admin), None, json!({}))).await;
    assert_eq!(r.body, json!([]), "used: no longer pending");

    let recent = entries::recent(&pool, 20).await.unwrap();
    let invited = recent
        .iter()
        .find(|e| e.action == "user.invited" && e.details["email"] == "pat@example.com")
        .unwrap();
    assert_eq!(invited.actor.email.as_deref(), Some("ada@example.com"));
    assert_eq!(invited.details["role"], "compliance");
    let joined = recent
        .iter()
        .find(|e| e.action == "user.invitation_accepted")
        .unwrap();
    assert_eq!(joined.actor.email.as_deref(), Some("pat@example.com"));
    assert_eq!(joined.user_agent.as_deref(), Some("invitee-browser/1"));
    assert_eq!(joined.source, Some(app::model::Source::Trailkeep));
    let hash = hex::encode(trailkeep::domain::auth::sha256(token.as_bytes()));
    for e in [invited, joined] {
        let text = serde_json::to_string(e).unwrap();
        assert!(
            !text.contains(&token) && !text.contains(&hash),
            "{}",
            e.action
        );
        assert!(!text.contains(CHOSEN), "{}", e.action);
    }
}

/// Two tabs accept one link at the same moment: exactly one account, one refusal. Repeated.
#[sqlx::test(migrations = "../migrations")]
async fn two_tabs_cannot_both_use_one_link(pool: PgPool) {
    for round in 0..10 {
        let made = invitations::invite(
            &pool,
            &format!("twice{round}@example.com"),
            "Twice",
            Role::Member,
            &Acting::cli(),
            Utc::now(),
            HOURS_72,
        )
        .await
        .unwrap();
        let now = Utc::now();
        let (a, b) = tokio::join!(
            invitations::accept(&pool, &made.token, CHOSEN, None, None, now),
            invitations::accept(&pool, &made.token, "a different password", None, None, now),
        );
        assert_eq!(
            [&a, &b].iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {a:?} {b:?}"
        );
        assert!(
            [&a, &b].iter().any(|r| matches!(
                r,
                Err(invitations::InviteError::Refused(InviteRefusal::NotValid))
            )),
            "round {round}: {a:?} {b:?}"
        );
        let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = $1")
            .bind(format!("twice{round}@example.com"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(accounts, 1, "round {round}");
    }
}

/// A link expires (fixed clock), and a newer invitation for the same email replaces it.
#[sqlx::test(migrations = "../migrations")]
async fn a_link_expires_and_a_newer_one_replaces_it(pool: PgPool) {
    let t0 = Utc::now();
    let first = invitations::invite(
        &pool,
        "late@example.com",
        "Late",
        Role::Member,
        &Acting::cli(),
        t0,
        HOURS_72,
    )
    .await
    .unwrap();
    let at = |h: i64| t0 + Duration::hours(h);
    assert!(invitations::describe(&pool, &first.token, at(71))
        .await
        .is_ok());
    let expired = invitations::accept(&pool, &first.token, CHOSEN, None, None, at(72)).await;
    assert!(
        matches!(
            expired,
            Err(invitations::InviteError::Refused(InviteRefusal::NotValid))
        ),
        "{expired:?}"
    );
    let second = invitations::invite(
        &pool,
        "late@example.com",
        "Late",
        Role::Admin,
        &Acting::cli(),
        at(1),
        HOURS_72,
    )
    .await
    .unwrap();
    let replaced = invitations::accept(&pool, &first.token, CHOSEN, None, None, at(2)).await;
    assert!(
        matches!(
            replaced,
            Err(invitations::InviteError::Refused(InviteRefusal::NotValid))
        ),
        "{replaced:?}"
    );
    let user = invitations::accept(&pool, &second.token, CHOSEN, None, None, at(2))
        .await
        .unwrap();
    assert_eq!(user.role, Role::Admin);
    // Used, it never changes again, whoever holds the server's role.
    let writer = common::writer_pool(&pool).await;
    let e = sqlx::query("UPDATE invitations SET accepted_at = NULL, user_id = NULL WHERE email = 'late@example.com'")
        .execute(&writer)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("never changes"), "{e}");
}

/// An invitation does not outlive its inviter's admin role (found in review): deactivating or
/// demoting the admin who made it revokes it; and two admins inviting one email at the same
/// moment leave one usable link, the other told to reload.
#[sqlx::test(migrations = "../migrations")]
async fn an_invitation_goes_with_its_inviters_admin_role(pool: PgPool) {
    let mut admins = Vec::new();
    for email in [
        "keep@example.com",
        "gone@example.com",
        "demoted@example.com",
    ] {
        let id =
            accounts::create_user(&pool, email, "Admin", Role::Admin, PASSWORD, &Acting::cli())
                .await
                .unwrap();
        admins.push(app::model::SessionUser {
            id,
            email: email.into(),
            name: "Admin".into(),
            role: Role::Admin,
        });
    }
    let by = |i: usize| Acting::user(&admins[i], None, None);
    let now = Utc::now();
    let from_gone = invitations::invite(
        &pool,
        "x@example.com",
        "X",
        Role::Admin,
        &by(1),
        now,
        HOURS_72,
    )
    .await
    .unwrap();
    let from_demoted = invitations::invite(
        &pool,
        "y@example.com",
        "Y",
        Role::Admin,
        &by(2),
        now,
        HOURS_72,
    )
    .await
    .unwrap();
    let from_keep = invitations::invite(
        &pool,
        "z@example.com",
        "Z",
        Role::Member,
        &by(0),
        now,
        HOURS_72,
    )
    .await
    .unwrap();
    trailkeep::service::users::deactivate(&pool, admins[1].id, &by(0), now)
        .await
        .unwrap();
    trailkeep::service::users::change_role(&pool, admins[2].id, Role::Member, &by(0))
        .await
        .unwrap();
    for gone in [&from_gone, &from_demoted] {
        let r = invitations::accept(&pool, &gone.token, CHOSEN, None, None, Utc::now()).await;
        assert!(
            matches!(
                r,
                Err(invitations::InviteError::Refused(InviteRefusal::NotValid))
            ),
            "{r:?}"
        );
    }
    let pending = invitations::pending(&pool, Utc::now()).await.unwrap();
    assert_eq!(
        pending.iter().map(|i| i.email.as_str()).collect::<Vec<_>>(),
        ["z@example.com"]
    );
    invitations::accept(&pool, &from_keep.token, CHOSEN, None, None, Utc::now())
        .await
        .unwrap();

    // Two admins invite one email at once, ten times: never two usable links.
    let keeper = by(0);
    for round in 0..10 {
        let email = format!("both{round}@example.com");
        let (a, b) = tokio::join!(
            invitations::invite(
                &pool,
                &email,
                "Both",
                Role::Member,
                &keeper,
                Utc::now(),
                HOURS_72
            ),
            invitations::invite(
                &pool,
                &email,
                "Both",
                Role::Member,
                &keeper,
                Utc::now(),
                HOURS_72
            ),
        );
        let usable = invitations::pending(&pool, Utc::now())
            .await
            .unwrap()
            .iter()
            .filter(|i| i.email == email)
            .count();
        assert_eq!(usable, 1, "round {round}: {a:?} {b:?}");
        for r in [&a, &b] {
            assert!(
                r.is_ok()
                    || matches!(
                        r,
                        Err(invitations::InviteError::Refused(
                            InviteRefusal::JustInvited
                        ))
                    ),
                "round {round}: {r:?}"
            );
        }
    }
}
