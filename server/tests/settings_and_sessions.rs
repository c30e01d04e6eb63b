//! The Settings page, one's own sessions, the required second factor and sudo mode (issue 25,
//! items 4, 5, 6 and 8) against real PostgreSQL, through the router `serve` builds: who may
//! read and save settings, each save recorded with before and after, the database's own
//! bounds, settings that apply at once (site name, lockout, session lifetime and idle
//! timeout); listing and ending one's sessions (`session.revoked`); a required second factor
//! that no page, server function or API route lets a user bypass; and sensitive changes that
//! need a recently proven password.

mod common;

use app::account::{PasswordRefusal, SessionRefusal};
use app::error::ConsoleError;
use app::keys::Scope;
use app::model::Role;
use app::settings::SettingsRefusal;
use app::two_factor::TwoFactorRefusal;
use axum::Router;
use common::console::{
    app, call, error, get, location, make, session, set_cookie, sign_in_as, PASSWORD,
};
use common::send;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::domain::two_factor::Seed;
use uuid::Uuid;

const READ: &str = <app::api::settings::ReadSettings as ServerFn>::PATH;
const SAVE: &str = <app::api::settings::SaveSettings as ServerFn>::PATH;
const SITE: &str = <app::api::SiteName as ServerFn>::PATH;
const WHOAMI: &str = <app::api::Whoami as ServerFn>::PATH;
const SESSIONS: &str = <app::api::account::MySessions as ServerFn>::PATH;
const END: &str = <app::api::account::EndSession as ServerFn>::PATH;
const CONFIRM_PASSWORD: &str = <app::api::account::ConfirmPassword as ServerFn>::PATH;
const CREATE_KEY: &str = <app::api::keys::CreateKey as ServerFn>::PATH;
const CHANGE_ROLE: &str = <app::api::users::ChangeRole as ServerFn>::PATH;
const STATUS: &str = <app::api::account::MyTwoFactor as ServerFn>::PATH;
const BEGIN: &str = <app::api::account::BeginTwoFactor as ServerFn>::PATH;
const CONFIRM: &str = <app::api::account::ConfirmTwoFactor as ServerFn>::PATH;
const DISABLE: &str = <app::api::account::DisableTwoFactor as ServerFn>::PATH;
const SEARCH: &str = <app::api::SearchEntries as ServerFn>::PATH;
const INVITE: &str = <app::api::invitations::InviteUser as ServerFn>::PATH;
const SET_ACTIVE: &str = <app::api::users::SetUserActive as ServerFn>::PATH;
const REVOKE_KEY: &str = <app::api::keys::RevokeKey as ServerFn>::PATH;

async fn entries(pool: &PgPool, action: &str) -> Vec<(Value, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT details, resource_type, actor_email FROM audit_entries WHERE action = $1 \
         ORDER BY seq",
    )
    .bind(action)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The settings as the page reads them, as admin `cookie`.
async fn read(app: &Router, cookie: &str) -> Value {
    let r = send(app, call(READ, Some(cookie), None, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn save(app: &Router, cookie: &str, settings: Value) -> common::Reply {
    send(
        app,
        call(SAVE, Some(cookie), None, json!({ "settings": settings })),
    )
    .await
}

/// Saves `changes` over the settings in force, as admin `cookie`.
async fn change(app: &Router, cookie: &str, changes: Value) {
    let mut s = read(app, cookie).await;
    for (k, v) in changes.as_object().unwrap() {
        s[k] = v.clone();
    }
    let r = save(app, cookie, s).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_read_and_save_settings_and_each_save_is_recorded(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "ada@example.com", Role::Admin).await;
    make(&pool, "carl@example.com", Role::Compliance).await;
    make(&pool, "mo@example.com", Role::Member).await;
    let admin = session(&app, "ada@example.com").await;

    // The environment's values until the first save.
    let before = read(&app, &admin).await;
    assert_eq!(before["site_name"], "Trailkeep");
    assert_eq!(before["lockout_failures"], 5);
    assert_eq!(before["session_hours"], 12);
    assert_eq!(before["require_two_factor"], "Nobody");

    // Compliance and members: refused, reading and saving; an API key of any scope too.
    for email in ["carl@example.com", "mo@example.com"] {
        let cookie = session(&app, email).await;
        let r = send(&app, call(READ, Some(&cookie), None, json!({}))).await;
        assert_eq!(r.status, 403, "{email}");
        assert_eq!(error(&r), ConsoleError::AdminOnly);
        let r = save(&app, &cookie, before.clone()).await;
        assert_eq!(error(&r), ConsoleError::AdminOnly);
    }
    let key = common::key(&pool, &[Scope::Ingest, Scope::Read]).await;
    let r = send(&app, call(READ, None, Some(&key), json!({}))).await;
    assert_eq!(r.status, 401);
    let r = send(
        &app,
        call(SAVE, None, Some(&key), json!({ "settings": before })),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(entries(&pool, "settings.updated").await.is_empty());

    // Out of bounds: refused with the field and its bounds, nothing saved.
    let mut bad = before.clone();
    bad["lockout_failures"] = json!(2);
    let r = save(&app, &admin, bad).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        error(&r),
        ConsoleError::Settings(SettingsRefusal::OutOfRange {
            field: "lockout_failures".into(),
            min: 3,
            max: 50
        })
    );
    assert!(error(&r).to_string().contains("from 3 to 50"));
    let mut bad = before.clone();
    bad["idle_minutes"] = json!(13 * 60);
    let r = save(&app, &admin, bad).await;
    assert_eq!(
        error(&r),
        ConsoleError::Settings(SettingsRefusal::IdleLongerThanSession)
    );
    let r = save(&app, &admin, before.clone()).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        error(&r),
        ConsoleError::Settings(SettingsRefusal::Unchanged)
    );
    assert!(entries(&pool, "settings.updated").await.is_empty());

    // A save: recorded with each changed field's before and after, and nothing else.
    let mut after = before.clone();
    after["site_name"] = json!("  Acme Evidence ");
    after["require_two_factor"] = json!("Admins");
    let r = save(&app, &admin, after).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["site_name"], "Acme Evidence");
    let recorded = entries(&pool, "settings.updated").await;
    assert_eq!(recorded.len(), 1);
    let (details, resource, actor) = &recorded[0];
    assert_eq!(resource.as_deref(), Some("settings"));
    assert_eq!(actor.as_deref(), Some("ada@example.com"));
    assert_eq!(
        details["changes"],
        json!({
            "site_name": {"before": "Trailkeep", "after": "Acme Evidence"},
            "require_two_factor": {"before": "nobody", "after": "admins"},
        })
    );
    // Anyone may ask the site's name (the sign-in page shows it).
    let r = send(&app, call(SITE, None, None, json!({}))).await;
    assert_eq!(r.body, json!("Acme Evidence"));
}

/// The table refuses what the page refuses, whoever writes: the server's role included.
#[sqlx::test(migrations = "../migrations")]
async fn the_database_holds_the_settings_bounds(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let columns = [
        "lockout_failures",
        "lockout_minutes",
        "session_hours",
        "idle_minutes",
        "invitation_hours",
        "late_record_seconds",
    ];
    let good = ["5", "15", "12", "60", "72", "300"];
    for (i, bad) in ["2", "0", "721", "4", "0", "0"].into_iter().enumerate() {
        // One bad value at a time, in its column.
        let mut values = good;
        values[i] = bad;
        let sql = format!(
            "INSERT INTO settings (site_name, require_two_factor, {}) VALUES ('x', 'nobody', {})",
            columns.join(", "),
            values.join(", ")
        );
        assert!(
            sqlx::query(&sql).execute(&writer).await.is_err(),
            "{} = {bad} accepted",
            columns[i]
        );
    }
    for bad in ["' x'", "'a' || chr(10) || 'b'", "''"] {
        let sql = format!(
            "INSERT INTO settings (site_name, lockout_failures, lockout_minutes, session_hours, \
             idle_minutes, invitation_hours, require_two_factor, late_record_seconds) \
             VALUES ({bad}, 5, 15, 12, 60, 72, 'nobody', 300)"
        );
        assert!(sqlx::query(&sql).execute(&writer).await.is_err(), "{bad}");
    }
    // One row at most; the idle timeout within the lifetime.
    sqlx::query(
        "INSERT INTO settings (site_name, lockout_failures, lockout_minutes, session_hours, \
         idle_minutes, invitation_hours, require_two_factor, late_record_seconds) \
         VALUES ('Acme', 5, 15, 12, 60, 72, 'nobody', 300)",
    )
    .execute(&writer)
    .await
    .unwrap();
    assert!(sqlx::query(
        "INSERT INTO settings (singleton, site_name, lockout_failures, lockout_minutes, \
         session_hours, idle_minutes, invitation_hours, require_two_factor, late_record_seconds) \
         VALUES (false, 'Acme', 5, 15, 12, 60, 72, 'nobody', 300)"
    )
    .execute(&writer)
    .await
    .is_err());
    assert!(sqlx::query("UPDATE settings SET idle_minutes = 800")
        .execute(&writer)
        .await
        .is_err());
    // The server's role may not remove them (nor the table).
    assert!(sqlx::query("DELETE FROM settings")
        .execute(&writer)
        .await
        .is_err());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_lockout_follows_the_settings(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "ada@example.com", Role::Admin).await;
    make(&pool, "mo@example.com", Role::Member).await;
    let admin = session(&app, "ada@example.com").await;
    change(&app, &admin, json!({"lockout_failures": 3})).await;
    for _ in 0..3 {
        let r = sign_in_as(&app, "mo@example.com", "wrong password!", "test").await;
        assert!(location(&r).contains("error="), "{}", location(&r));
    }
    // Locked after three: even the right password is refused now.
    let r = sign_in_as(&app, "mo@example.com", PASSWORD, "test").await;
    assert!(location(&r).contains("error=locked"), "{}", location(&r));
    assert!(set_cookie(&r, "trailkeep_session").is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn own_sessions_are_listed_and_ended(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "mo@example.com", Role::Member).await;
    make(&pool, "eve@example.com", Role::Member).await;
    let laptop = set_cookie(
        &sign_in_as(
            &app,
            "mo@example.com",
            PASSWORD,
            "Mozilla/5.0 (X11; Linux) Firefox/130.0",
        )
        .await,
        "trailkeep_session",
    )
    .unwrap();
    let phone = set_cookie(
        &sign_in_as(
            &app,
            "mo@example.com",
            PASSWORD,
            "Mozilla/5.0 (iPhone) Safari/604.1",
        )
        .await,
        "trailkeep_session",
    )
    .unwrap();
    let eve = session(&app, "eve@example.com").await;

    let r = send(&app, call(SESSIONS, Some(&laptop), None, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "only Mo's: {list:?}");
    let mine = list.iter().find(|s| s["current"] == true).unwrap();
    assert!(mine["user_agent"].as_str().unwrap().contains("Firefox"));
    let other = list.iter().find(|s| s["current"] == false).unwrap();
    assert!(other["user_agent"].as_str().unwrap().contains("iPhone"));
    assert!(!r.text.contains("token"), "no token or hash in the answer");
    let phone_id = other["id"].as_str().unwrap().to_string();
    let laptop_id = mine["id"].as_str().unwrap().to_string();

    // Not one's own, not the current one, not an unknown one.
    let r = send(&app, call(END, Some(&eve), None, json!({"id": phone_id}))).await;
    assert_eq!(r.status, 404);
    assert_eq!(error(&r), ConsoleError::Session(SessionRefusal::NotFound));
    let r = send(
        &app,
        call(END, Some(&laptop), None, json!({"id": laptop_id})),
    )
    .await;
    assert_eq!(error(&r), ConsoleError::Session(SessionRefusal::Current));
    let r = send(
        &app,
        call(END, Some(&laptop), None, json!({"id": Uuid::new_v4()})),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = send(&app, call(WHOAMI, Some(&phone), None, json!({}))).await;
    assert_eq!(r.status, 200);

    // Ending the phone's: it is signed out at once, the laptop stays, one entry records it.
    let r = send(
        &app,
        call(END, Some(&laptop), None, json!({"id": phone_id})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&app, call(WHOAMI, Some(&phone), None, json!({}))).await;
    assert_eq!(r.status, 401);
    let r = send(&app, call(WHOAMI, Some(&laptop), None, json!({}))).await;
    assert_eq!(r.status, 200);
    let r = send(
        &app,
        call(END, Some(&laptop), None, json!({"id": phone_id})),
    )
    .await;
    assert_eq!(r.status, 404, "ended once");
    let recorded = entries(&pool, "session.revoked").await;
    assert_eq!(recorded.len(), 1);
    let (details, resource, actor) = &recorded[0];
    assert_eq!(resource.as_deref(), Some("session"));
    assert_eq!(actor.as_deref(), Some("mo@example.com"));
    assert!(details["session"]["user_agent"]
        .as_str()
        .unwrap()
        .contains("iPhone"));
    assert_eq!(
        details["changes"]["status"],
        json!({"before": "active", "after": "revoked"})
    );
    // API keys cannot list or end sessions.
    let key = common::key(&pool, &[Scope::Read]).await;
    let r = send(&app, call(SESSIONS, None, Some(&key), json!({}))).await;
    assert_eq!(r.status, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn sessions_end_after_their_lifetime_or_idle_time(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "mo@example.com", Role::Member).await;
    let idle = session(&app, "mo@example.com").await;
    let old = session(&app, "mo@example.com").await;
    let busy = session(&app, "mo@example.com").await;
    // Unused for 2 h 1 min (the default idle timeout is 2 h); opened 12 h 1 min ago.
    age(&pool, &idle, "last_seen_at", "121 minutes").await;
    age(&pool, &old, "created_at", "721 minutes").await;
    for gone in [&idle, &old] {
        let r = send(&app, call(WHOAMI, Some(gone), None, json!({}))).await;
        assert_eq!(r.status, 401);
    }
    // Ended for good: a longer idle timeout or lifetime later does not revive them.
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "the two ended sessions are deleted when met");
    let r = send(&app, call(WHOAMI, Some(&busy), None, json!({}))).await;
    assert_eq!(r.status, 200);

    // Use is noted at most once a minute: a request 30 s after the last note writes nothing.
    let seen = |pool: PgPool, cookie: String| async move {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
            "SELECT last_seen_at FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash(&cookie))
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    age(&pool, &busy, "last_seen_at", "30 seconds").await;
    let noted = seen(pool.clone(), busy.clone()).await;
    send(&app, call(WHOAMI, Some(&busy), None, json!({}))).await;
    assert_eq!(seen(pool.clone(), busy.clone()).await, noted);
    age(&pool, &busy, "last_seen_at", "90 seconds").await;
    let noted = seen(pool.clone(), busy.clone()).await;
    send(&app, call(WHOAMI, Some(&busy), None, json!({}))).await;
    assert!(seen(pool.clone(), busy.clone()).await > noted);

    // A shorter lifetime applies to sessions already open.
    make(&pool, "ada@example.com", Role::Admin).await;
    let admin = session(&app, "ada@example.com").await;
    age(&pool, &busy, "created_at", "3 hours").await;
    change(
        &app,
        &admin,
        json!({"session_hours": 2, "idle_minutes": 60}),
    )
    .await;
    let r = send(&app, call(WHOAMI, Some(&admin), None, json!({}))).await;
    assert_eq!(r.status, 200);
    // The save ended it: lengthening the lifetime again does not bring it back.
    change(
        &app,
        &admin,
        json!({"session_hours": 24, "idle_minutes": 60}),
    )
    .await;
    let r = send(&app, call(WHOAMI, Some(&busy), None, json!({}))).await;
    assert_eq!(r.status, 401);
}

/// Sets back when session `cookie` last proved its password.
async fn prove_long_ago(pool: &PgPool, cookie: &str) {
    age(pool, cookie, "proven_at", "11 minutes").await;
}

/// The stored hash of session `cookie` (`name=token`).
fn token_hash(cookie: &str) -> Vec<u8> {
    let token = cookie.split_once('=').unwrap().1;
    trailkeep::domain::auth::sha256(token.as_bytes())
}

/// Sets `column` of session `cookie` to `ago` before now, as the table's owner (a clock the
/// test controls).
async fn age(pool: &PgPool, cookie: &str, column: &str, ago: &str) {
    sqlx::query(&format!(
        "UPDATE sessions SET {column} = now() - $2::interval WHERE token_hash = $1"
    ))
    .bind(token_hash(cookie))
    .bind(ago)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn sensitive_changes_need_a_recent_password(pool: PgPool) {
    // Behind a proxy that names each client, so outsiders' addresses differ from the admin's.
    let config = trailkeep::infra::config::Config {
        trust_proxy: true,
        ..Default::default()
    };
    let app = common::router_with(&pool, None, config).await;
    make(&pool, "ada@example.com", Role::Admin).await;
    let mo = make(&pool, "mo@example.com", Role::Member).await;
    let admin = session(&app, "ada@example.com").await;
    prove_long_ago(&pool, &admin).await;
    let new_key = json!({"name": "Billing", "scopes": ["ingest"], "expires_in_days": null});
    let keys = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM api_keys")
            .fetch_one(&pool)
            .await
            .unwrap()
    };

    // Each sensitive change: refused, asking for the password, nothing changed.
    let r = send(&app, call(CREATE_KEY, Some(&admin), None, new_key.clone())).await;
    assert_eq!(r.status, 403);
    assert_eq!(error(&r), ConsoleError::ConfirmPassword);
    assert_eq!(keys().await, 0);
    let r = send(
        &app,
        call(
            CHANGE_ROLE,
            Some(&admin),
            None,
            json!({"id": mo, "role": "compliance"}),
        ),
    )
    .await;
    assert_eq!(error(&r), ConsoleError::ConfirmPassword);
    let r = send(&app, call(BEGIN, Some(&admin), None, json!({}))).await;
    assert_eq!(error(&r), ConsoleError::ConfirmPassword);
    // A stolen session can neither mint itself a lasting admin nor stop ingest.
    let r = send(
        &app,
        call(
            INVITE,
            Some(&admin),
            None,
            json!({"email": "mallory@example.com", "name": "M", "role": "admin"}),
        ),
    )
    .await;
    assert_eq!(error(&r), ConsoleError::ConfirmPassword);
    let r = send(
        &app,
        call(
            SET_ACTIVE,
            Some(&admin),
            None,
            json!({"id": mo, "active": false}),
        ),
    )
    .await;
    assert_eq!(error(&r), ConsoleError::ConfirmPassword);
    let ingest = common::key(&pool, &[Scope::Ingest]).await;
    let ingest_id: Uuid = sqlx::query_scalar("SELECT id FROM api_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    let r = send(
        &app,
        call(REVOKE_KEY, Some(&admin), None, json!({"id": ingest_id})),
    )
    .await;
    assert_eq!(error(&r), ConsoleError::ConfirmPassword);
    let r = send(
        &app,
        common::post_json(
            Some(&ingest),
            json!({"action": "still.works", "actor": {"type": "user", "id": "u1"}}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let invitations: i64 = sqlx::query_scalar("SELECT count(*) FROM invitations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(invitations, 0);
    let before = read(&app, &admin).await;
    let mut after = before.clone();
    after["site_name"] = json!("Acme");
    let r = save(&app, &admin, after).await;
    assert_eq!(error(&r), ConsoleError::ConfirmPassword);
    // Reading is not sensitive.
    let r = send(&app, call(STATUS, Some(&admin), None, json!({}))).await;
    assert_eq!(r.status, 200);

    // A wrong password: refused and counted as a failed sign-in.
    let r = send(
        &app,
        call(
            CONFIRM_PASSWORD,
            Some(&admin),
            None,
            json!({"password": "not my password"}),
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        error(&r),
        ConsoleError::Password(PasswordRefusal::WrongPassword)
    );
    let failed = entries(&pool, "user.login_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0["while"], "confirming the password");
    let r = send(&app, call(CREATE_KEY, Some(&admin), None, new_key.clone())).await;
    assert_eq!(error(&r), ConsoleError::ConfirmPassword);

    // The right one: the changes go through for the next ten minutes.
    let r = send(
        &app,
        call(
            CONFIRM_PASSWORD,
            Some(&admin),
            None,
            json!({"password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&app, call(CREATE_KEY, Some(&admin), None, new_key)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys().await, 2);
    let r = send(
        &app,
        call(
            CHANGE_ROLE,
            Some(&admin),
            None,
            json!({"id": mo, "role": "compliance"}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Outsiders failing sign-ins on the admin's account (past its slow-down, from many
    // addresses) cannot keep the admin from confirming: confirmations are spaced, not refused.
    for i in 0..12 {
        let mut request = common::console::form(
            "/login",
            None,
            &[("email", "ada@example.com"), ("password", "guess")],
        );
        request.headers_mut().insert(
            "x-forwarded-for",
            format!("198.51.100.{i}").parse().unwrap(),
        );
        send(&app, request).await;
    }
    prove_long_ago(&pool, &admin).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let r = send(
        &app,
        call(
            CONFIRM_PASSWORD,
            Some(&admin),
            None,
            json!({"password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // No password in any entry.
    let all: Vec<String> = sqlx::query_scalar("SELECT details::text FROM audit_entries")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(all
        .iter()
        .all(|d| !d.contains(PASSWORD) && !d.contains("not my password")));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_required_second_factor_cannot_be_bypassed(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "ada@example.com", Role::Admin).await;
    make(&pool, "carl@example.com", Role::Compliance).await;
    let admin = session(&app, "ada@example.com").await;
    // Already signed in before the requirement: held to it at once.
    let carl = session(&app, "carl@example.com").await;
    let r = send(&app, get("/api/v1/events", &carl)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    change(&app, &admin, json!({"require_two_factor": "Everyone"})).await;

    for cookie in [&carl, &session(&app, "carl@example.com").await] {
        // Pages lead to the Account page; nothing else opens.
        for page in ["/audit", "/users", "/keys", "/settings"] {
            let r = send(&app, get(page, cookie)).await;
            assert_eq!(location(&r), "/account?enrol=required", "{page}");
        }
        let r = send(&app, get("/account", cookie)).await;
        assert_eq!(r.status, 200);
        // Server functions and the API: refused, saying why.
        let r = send(
            &app,
            call(
                SEARCH,
                Some(cookie),
                None,
                json!({"filter": "", "cursor": null}),
            ),
        )
        .await;
        assert_eq!(r.status, 403);
        assert_eq!(error(&r), ConsoleError::EnrolFirst);
        let r = send(&app, call(SESSIONS, Some(cookie), None, json!({}))).await;
        assert_eq!(error(&r), ConsoleError::EnrolFirst);
        let r = send(&app, get("/api/v1/events", cookie)).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert!(r.text.contains("/account"), "{}", r.text);
        // An API key sent with such a cookie speaks for itself.
        let key = common::key(&pool, &[Scope::Read]).await;
        let mut keyed = get("/api/v1/events", cookie);
        keyed
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
        let r = send(&app, keyed).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(&app, call(STATUS, Some(cookie), None, json!({}))).await;
        assert_eq!(r.body["required"], true);
        assert_eq!(r.body["enabled"], false);
    }
    // The admin too (everyone).
    let r = send(&app, get("/audit", &admin)).await;
    assert_eq!(location(&r), "/account?enrol=required");

    // Setting it up from the Account page opens the rest.
    let r = send(&app, call(BEGIN, Some(&carl), None, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let seed = Seed::from_base32(r.body["secret"].as_str().unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    let r = send(
        &app,
        call(
            CONFIRM,
            Some(&carl),
            None,
            json!({"code": seed.code_at(now)}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&app, get("/api/v1/events", &carl)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&app, get("/audit", &carl)).await;
    assert_eq!(r.status, 200);
    // Required: it cannot be turned off.
    let r = send(
        &app,
        call(
            DISABLE,
            Some(&carl),
            None,
            json!({"code": seed.code_at(now + 30)}),
        ),
    )
    .await;
    assert_eq!(
        error(&r),
        ConsoleError::TwoFactor(TwoFactorRefusal::Required)
    );
}
