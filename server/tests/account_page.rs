//! The Account page (issue 25, items 4 and 5) against real PostgreSQL, through the router
//! `serve` builds. Changing one's password: the current one required (wrong ones count toward
//! the lockout), the new one's rules, every other session ended. Two-factor sign-in: enrolment from the Account page's server functions, the second sign-in step (the
//! password alone never yields a session; the step's challenge works once; a code works once,
//! even sent twice at the same moment; recovery codes work once; wrong codes count toward the
//! lockout), an admin's reset, who may call what, the database's own refusals, and that no
//! seed or code reaches the log.

mod common;

use app::error::ConsoleError;
use app::keys::Scope;
use app::model::Role;
use app::two_factor::TwoFactorRefusal;
use axum::{body::Body, http::Request, Router};
use common::console::{app, call, error, form, location, make, set_cookie, PASSWORD};
use common::{send, Reply};
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::domain::two_factor::Seed;

const STATUS: &str = <app::api::account::MyTwoFactor as ServerFn>::PATH;
const BEGIN: &str = <app::api::account::BeginTwoFactor as ServerFn>::PATH;
const CONFIRM: &str = <app::api::account::ConfirmTwoFactor as ServerFn>::PATH;
const DISABLE: &str = <app::api::account::DisableTwoFactor as ServerFn>::PATH;
const REGENERATE: &str = <app::api::account::NewRecoveryCodes as ServerFn>::PATH;
const RESET: &str = <app::api::users::ResetTwoFactor as ServerFn>::PATH;
const PASSWORD_CHANGE: &str = <app::api::account::ChangePassword as ServerFn>::PATH;

async fn password_step(app: &Router, email: &str) -> Reply {
    send(
        app,
        form("/login", None, &[("email", email), ("password", PASSWORD)]),
    )
    .await
}

async fn code_step(app: &Router, challenge: &str, code: &str) -> Reply {
    send(app, form("/login/code", Some(challenge), &[("code", code)])).await
}

/// Signs in with the password alone (an account without a second factor): the session cookie.
async fn session(app: &Router, email: &str) -> String {
    set_cookie(&password_step(app, email).await, "trailkeep_session").expect("a session")
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

/// Enrols the user of `cookie`: their seed, recovery codes, and the time of the code used.
async fn enrol(app: &Router, cookie: &str) -> (Seed, Vec<String>, u64) {
    let r = send(app, call(BEGIN, Some(cookie), None, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    assert!(r.body["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let seed = Seed::from_base32(r.body["secret"].as_str().unwrap()).unwrap();
    let at = now();
    let r = send(
        app,
        call(
            CONFIRM,
            Some(cookie),
            None,
            json!({"code": seed.code_at(at)}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<String> = serde_json::from_value(r.body.clone()).unwrap();
    assert_eq!(codes.len(), 10);
    (seed, codes, at)
}

async fn actions(pool: &PgPool) -> Vec<(String, Value)> {
    sqlx::query_as("SELECT action, details FROM audit_entries ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_in_asks_for_a_code_that_works_once(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "ada@example.com", Role::Member).await;
    let cookie = session(&app, "ada@example.com").await;

    // Off at first; a wrong first code leaves it off.
    let r = send(&app, call(STATUS, Some(&cookie), None, json!({}))).await;
    assert_eq!(
        r.body,
        json!({"enabled": false, "recovery_codes_left": 0, "required": false})
    );
    let r = send(&app, call(BEGIN, Some(&cookie), None, json!({}))).await;
    let seed = Seed::from_base32(r.body["secret"].as_str().unwrap()).unwrap();
    let wrong = if seed.code_at(now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = send(
        &app,
        call(CONFIRM, Some(&cookie), None, json!({"code": wrong})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        error(&r),
        ConsoleError::TwoFactor(TwoFactorRefusal::WrongCode)
    );

    let (seed, codes, enrolled_at) = enrol(&app, &cookie).await;
    let r = send(&app, call(STATUS, Some(&cookie), None, json!({}))).await;
    assert_eq!(
        r.body,
        json!({"enabled": true, "recovery_codes_left": 10, "required": false})
    );
    let r = send(&app, call(BEGIN, Some(&cookie), None, json!({}))).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        error(&r),
        ConsoleError::TwoFactor(TwoFactorRefusal::AlreadyOn)
    );

    // The password alone: a challenge for /login only, never a session.
    let r = password_step(&app, "ada@example.com").await;
    assert_eq!(r.status, 303);
    assert!(
        location(&r).starts_with("/login?step=code"),
        "{}",
        location(&r)
    );
    assert!(set_cookie(&r, "trailkeep_session").is_none());
    let challenge = set_cookie(&r, "trailkeep_challenge").unwrap();
    let raw = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        raw.contains("Path=/login;") && raw.contains("HttpOnly"),
        "{raw}"
    );
    // The challenge opens nothing else: not a page, not a server function.
    let r = send(&app, call(STATUS, Some(&challenge), None, json!({}))).await;
    assert_eq!(r.status, 401);
    let r = send(
        &app,
        Request::get("/audit")
            .header("cookie", &challenge)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(location(&r).starts_with("/login?next="), "{}", location(&r));

    // The code that confirmed enrolment was used: refused (a replay), counted as a failure.
    let r = code_step(&app, &challenge, &seed.code_at(enrolled_at)).await;
    assert!(location(&r).contains("error=code"), "{}", location(&r));
    assert!(set_cookie(&r, "trailkeep_session").is_none());
    // The next step's code signs in; the challenge is then spent.
    let next = seed.code_at(enrolled_at + 30);
    let r = code_step(&app, &challenge, &next).await;
    assert_eq!(location(&r), "/audit");
    let second = set_cookie(&r, "trailkeep_session").expect("signed in");
    let r = send(&app, call(STATUS, Some(&second), None, json!({}))).await;
    assert_eq!(r.status, 200);
    let r = code_step(&app, &challenge, &next).await;
    assert!(location(&r).contains("error=expired"), "{}", location(&r));
    // The same code again, through a fresh password step: refused.
    let challenge = set_cookie(
        &password_step(&app, "ada@example.com").await,
        "trailkeep_challenge",
    )
    .unwrap();
    let r = code_step(&app, &challenge, &next).await;
    assert!(location(&r).contains("error=code"), "{}", location(&r));

    // A recovery code, however typed, works once.
    let r = code_step(&app, &challenge, &codes[0].to_uppercase().replace('-', " ")).await;
    assert_eq!(location(&r), "/audit", "a recovery code signs in");
    let challenge = set_cookie(
        &password_step(&app, "ada@example.com").await,
        "trailkeep_challenge",
    )
    .unwrap();
    let r = code_step(&app, &challenge, &codes[0]).await;
    assert!(location(&r).contains("error=code"), "{}", location(&r));
    let r = send(&app, call(STATUS, Some(&cookie), None, json!({}))).await;
    assert_eq!(r.body["recovery_codes_left"], 9);

    // New recovery codes (proven by one): the old set stops working.
    let r = send(
        &app,
        call(REGENERATE, Some(&cookie), None, json!({"code": codes[1]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fresh: Vec<String> = serde_json::from_value(r.body.clone()).unwrap();
    let r = code_step(&app, &challenge, &codes[2]).await;
    assert!(location(&r).contains("error=code"), "{}", location(&r));

    // Every failed code counted: the account locks after five, for the code step too.
    let mut outcome = String::new();
    for _ in 0..5 {
        let r = code_step(&app, &challenge, "000000").await;
        outcome = location(&r);
        if outcome.contains("error=locked") {
            break;
        }
    }
    assert!(outcome.contains("error=locked"), "{outcome}");
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_entries WHERE action = 'user.login_failed' \
         AND details->>'reason' IN ('bad_code', 'locked_out')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(failed >= 5, "{failed}");
    let r = code_step(&app, &challenge, &fresh[0]).await;
    assert!(
        location(&r).contains("error=expired"),
        "the lock ended the challenge"
    );

    // The log: who enrolled, how each sign-in was proven, and never a seed or a code.
    let all = actions(&pool).await;
    let enrolled = all.iter().find(|(a, _)| a == "2fa.enrolled").unwrap();
    assert_eq!(
        enrolled.1["changes"],
        json!({"two_factor": {"before": false, "after": true}})
    );
    let factors: Vec<&Value> = all
        .iter()
        .filter(|(a, _)| a == "user.login")
        .map(|(_, d)| &d["second_factor"])
        .collect();
    assert_eq!(
        factors,
        [&Value::Null, &json!("totp"), &json!("recovery_code")]
    );
    assert!(all.iter().any(|(a, _)| a == "2fa.recovery_code_used"));
    assert!(all
        .iter()
        .any(|(a, _)| a == "2fa.recovery_codes_regenerated"));
    let text: String =
        sqlx::query_scalar("SELECT string_agg(row_to_json(e)::text, ' ') FROM audit_entries e")
            .fetch_one(&pool)
            .await
            .unwrap();
    let secret = seed.base32();
    assert!(!text.contains(&secret) && !text.contains(&secret.to_lowercase()));
    for code in codes.iter().chain(&fresh) {
        assert!(!text.contains(code.as_str()), "a recovery code in the log");
    }
    assert!(!text.contains("argon2"), "a hash in the log");
}

#[sqlx::test(migrations = "../migrations")]
async fn one_code_sent_twice_at_once_signs_in_once(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "ada@example.com", Role::Member).await;
    let cookie = session(&app, "ada@example.com").await;
    let (seed, _, _) = enrol(&app, &cookie).await;
    let code = seed.code_at(now() + 30);
    for _ in 0..3 {
        let a = set_cookie(
            &password_step(&app, "ada@example.com").await,
            "trailkeep_challenge",
        )
        .unwrap();
        let b = set_cookie(
            &password_step(&app, "ada@example.com").await,
            "trailkeep_challenge",
        )
        .unwrap();
        let (ra, rb) = tokio::join!(code_step(&app, &a, &code), code_step(&app, &b, &code));
        let sessions = [ra, rb]
            .iter()
            .filter(|r| set_cookie(r, "trailkeep_session").is_some())
            .count();
        // The first round may sign in once; every later round replays: none.
        assert!(sessions <= 1, "one code, {sessions} sessions");
    }
    let logins: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_entries WHERE action = 'user.login' \
         AND details->>'second_factor' = 'totp'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(logins, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_reset_and_only_the_owner_turns_it_off(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "root@example.com", Role::Admin).await;
    make(&pool, "cy@example.com", Role::Compliance).await;
    let ada = make(&pool, "ada@example.com", Role::Member).await;
    let admin = session(&app, "root@example.com").await;
    let compliance = session(&app, "cy@example.com").await;
    let member = session(&app, "ada@example.com").await;
    let key = common::key(&pool, &[Scope::Ingest, Scope::Read]).await;
    let (_, codes, _) = enrol(&app, &member).await;

    // API keys call none of these; compliance officers and members reset nobody.
    for path in [STATUS, BEGIN, CONFIRM, DISABLE, REGENERATE, RESET] {
        let r = send(
            &app,
            call(path, None, Some(&key), json!({"code": "1", "id": ada})),
        )
        .await;
        assert_eq!(r.status, 401, "{path} with a key");
    }
    for cookie in [&compliance, &member] {
        let r = send(&app, call(RESET, Some(cookie), None, json!({"id": ada}))).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(error(&r), ConsoleError::AdminOnly);
    }
    // Turning it off needs a current code, and acts on the caller only.
    let r = send(
        &app,
        call(DISABLE, Some(&compliance), None, json!({"code": codes[0]})),
    )
    .await;
    assert_eq!(error(&r), ConsoleError::TwoFactor(TwoFactorRefusal::NotOn));
    let r = send(
        &app,
        call(DISABLE, Some(&member), None, json!({"code": "000000"})),
    )
    .await;
    assert_eq!(
        error(&r),
        ConsoleError::TwoFactor(TwoFactorRefusal::WrongCode)
    );

    // The admin's reset: off, the user's sessions end, recorded with before and after.
    let r = send(&app, call(RESET, Some(&admin), None, json!({"id": ada}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["two_factor"], false);
    let r = send(&app, call(STATUS, Some(&member), None, json!({}))).await;
    assert_eq!(r.status, 401, "the reset ended their session");
    let r = send(&app, call(RESET, Some(&admin), None, json!({"id": ada}))).await;
    assert_eq!(error(&r), ConsoleError::TwoFactor(TwoFactorRefusal::NotOn));
    let (action, details): (String, Value) =
        sqlx::query_as("SELECT action, details FROM audit_entries WHERE action = '2fa.reset'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(action, "2fa.reset");
    assert_eq!(details["changes"]["two_factor"]["before"], true);
    // The password alone signs in again.
    let member = session(&app, "ada@example.com").await;

    // Enrolled again, the owner turns it off with a recovery code.
    let (_, codes, _) = enrol(&app, &member).await;
    let r = send(
        &app,
        call(DISABLE, Some(&member), None, json!({"code": codes[3]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&app, call(STATUS, Some(&member), None, json!({}))).await;
    assert_eq!(
        r.body,
        json!({"enabled": false, "recovery_codes_left": 0, "required": false})
    );
    assert!(set_cookie(
        &password_step(&app, "ada@example.com").await,
        "trailkeep_session"
    )
    .is_some());
}

/// The server's own role cannot wind a code's step back, reuse a recovery code, or move a
/// confirmed seed: the database refuses (migration 0026).
#[sqlx::test(migrations = "../migrations")]
async fn the_database_keeps_codes_used(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "ada@example.com", Role::Member).await;
    let bob = make(&pool, "bob@example.com", Role::Member).await;
    let cookie = session(&app, "ada@example.com").await;
    let (_, codes, _) = enrol(&app, &cookie).await;
    let challenge = set_cookie(
        &password_step(&app, "ada@example.com").await,
        "trailkeep_challenge",
    )
    .unwrap();
    assert_eq!(
        location(&code_step(&app, &challenge, &codes[0]).await),
        "/audit"
    );
    let writer = common::writer_pool(&pool).await;
    for attack in [
        "UPDATE totp_credentials SET last_step = last_step - 1".to_string(),
        "UPDATE totp_credentials SET sealed_seed = sealed_seed || '\\x00'::bytea".to_string(),
        format!("UPDATE totp_credentials SET user_id = '{bob}'"),
        "UPDATE recovery_codes SET used_at = NULL WHERE used_at IS NOT NULL".to_string(),
        "UPDATE recovery_codes SET code_hash = '$argon2id$x' WHERE used_at IS NULL".to_string(),
    ] {
        let e = sqlx::query(&attack).execute(&writer).await.unwrap_err();
        assert!(
            e.to_string().contains("once")
                || e.to_string().contains("never")
                || e.to_string().contains("stays"),
            "{attack}: {e}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_password_ends_every_other_session(pool: PgPool) {
    use app::account::PasswordRefusal;
    let app = app(&pool).await;
    make(&pool, "ada@example.com", Role::Member).await;
    let here = session(&app, "ada@example.com").await;
    let elsewhere = session(&app, "ada@example.com").await;
    let key = common::key(&pool, &[Scope::Ingest, Scope::Read]).await;
    let change = |cookie: Option<&str>, bearer: Option<&str>, current: &str, new: &str| {
        call(
            PASSWORD_CHANGE,
            cookie,
            bearer,
            json!({"current": current, "new": new}),
        )
    };
    let fresh = "otter lantern quarry";

    // Not without a session; the new password's rules; the current one must be right.
    let r = send(&app, change(None, Some(&key), PASSWORD, fresh)).await;
    assert_eq!(r.status, 401);
    for (new, why) in [
        ("short", PasswordRefusal::TooShort),
        ("password1234", PasswordRefusal::Common),
        ("ada@example.com", PasswordRefusal::IsEmail),
        (PASSWORD, PasswordRefusal::Unchanged),
    ] {
        let r = send(&app, change(Some(&here), None, PASSWORD, new)).await;
        assert_eq!(r.status, 400, "{new}: {}", r.text);
        assert_eq!(error(&r), ConsoleError::Password(why), "{new}");
    }
    let r = send(&app, change(Some(&here), None, "not my password", fresh)).await;
    assert_eq!(
        error(&r),
        ConsoleError::Password(PasswordRefusal::WrongPassword)
    );

    // Changed: this session stays, the other ends; the old password no longer signs in.
    let r = send(&app, change(Some(&here), None, PASSWORD, fresh)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!(1));
    let r = send(&app, call(STATUS, Some(&here), None, json!({}))).await;
    assert_eq!(r.status, 200);
    let r = send(&app, call(STATUS, Some(&elsewhere), None, json!({}))).await;
    assert_eq!(r.status, 401);
    assert!(set_cookie(
        &password_step(&app, "ada@example.com").await,
        "trailkeep_session"
    )
    .is_none());
    let r = send(
        &app,
        form(
            "/login",
            None,
            &[("email", "ada@example.com"), ("password", fresh)],
        ),
    )
    .await;
    assert!(set_cookie(&r, "trailkeep_session").is_some());
    let (details,): (Value,) =
        sqlx::query_as("SELECT details FROM audit_entries WHERE action = 'user.password_changed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(details["other_sessions_ended"], 1);
    let text: String =
        sqlx::query_scalar("SELECT string_agg(row_to_json(e)::text, ' ') FROM audit_entries e")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!text.contains(fresh) && !text.contains(PASSWORD) && !text.contains("argon2"));

    // Guessing the current password through a session locks like the sign-in form does.
    let mut last = ConsoleError::Unavailable;
    for _ in 0..6 {
        let r = send(
            &app,
            change(Some(&here), None, "a wrong guess", "another long password"),
        )
        .await;
        last = error(&r);
    }
    assert_eq!(last, ConsoleError::Password(PasswordRefusal::LockedOut));
}

/// A stolen session guesses codes no faster than the sign-in form: wrong codes for turning
/// two-factor sign-in off count toward the account's lockout, and then even the right one is
/// refused until the window ends.
#[sqlx::test(migrations = "../migrations")]
async fn wrong_codes_on_the_account_page_lock_like_sign_in(pool: PgPool) {
    let app = app(&pool).await;
    make(&pool, "ada@example.com", Role::Member).await;
    let cookie = session(&app, "ada@example.com").await;
    let (_, codes, _) = enrol(&app, &cookie).await;
    let mut refusals = Vec::new();
    for _ in 0..6 {
        let r = send(
            &app,
            call(DISABLE, Some(&cookie), None, json!({"code": "000000"})),
        )
        .await;
        refusals.push(error(&r));
    }
    assert_eq!(
        refusals[4..],
        [
            ConsoleError::TwoFactor(TwoFactorRefusal::WrongCode),
            ConsoleError::TwoFactor(TwoFactorRefusal::LockedOut)
        ]
    );
    let r = send(
        &app,
        call(DISABLE, Some(&cookie), None, json!({"code": codes[0]})),
    )
    .await;
    assert_eq!(r.status, 429);
    let r = send(&app, call(STATUS, Some(&cookie), None, json!({}))).await;
    assert_eq!(r.body["enabled"], true);
    // The code step locks too: five wrong codes from anywhere are the account's limit.
    let challenge = set_cookie(
        &password_step(&app, "ada@example.com").await,
        "trailkeep_challenge",
    );
    assert!(challenge.is_none(), "the password step is locked as well");
}
