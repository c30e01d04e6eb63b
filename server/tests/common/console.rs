//! Driving the console as a browser does: the sign-in form, cookies, server-function calls
//! with their typed errors.

use app::error::ConsoleError;
use axum::{body::Body, http::Request, Router};
use serde_json::Value;

use super::{send, Reply};

/// A password that passes the invitation's rules.
pub const PASSWORD: &str = "correct horse battery";

/// The router as `serve` builds it, holding a fresh log signing key (second factors are
/// sealed with a key derived from it).
pub async fn app(pool: &sqlx::PgPool) -> Router {
    let key = trailkeep::domain::integrity::checkpoint::SigningKey::generate(
        "trailkeep.test/log",
        &mut rand_core::OsRng,
    )
    .unwrap();
    super::router_signing(pool, &key).await
}

/// A user of `role` whose password is [`PASSWORD`].
pub async fn make(pool: &sqlx::PgPool, email: &str, role: app::model::Role) -> uuid::Uuid {
    use trailkeep::service::accounts::{self, Acting};
    accounts::create_user(pool, email, "Test User", role, PASSWORD, &Acting::cli())
        .await
        .unwrap()
}

/// A form POST (the sign-in steps), with a cookie.
pub fn form(path: &str, cookie: Option<&str>, pairs: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "trailkeep.test");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
        .unwrap()
}

/// The `name=value` of cookie `name` the reply sets (not one it clears).
pub fn set_cookie(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
}

/// Where the reply redirects.
pub fn location(r: &Reply) -> String {
    match r.headers.get("location") {
        Some(l) => l.to_str().unwrap().to_string(),
        None => panic!("no redirect: {} {}", r.status, r.text),
    }
}

/// The password step of sign-in, with `password`, from `user_agent`.
pub async fn sign_in_as(app: &Router, email: &str, password: &str, user_agent: &str) -> Reply {
    let mut request = form("/login", None, &[("email", email), ("password", password)]);
    request
        .headers_mut()
        .insert("user-agent", user_agent.parse().unwrap());
    send(app, request).await
}

/// Signs in with [`PASSWORD`] alone (an account without a second factor): the session cookie.
pub async fn session(app: &Router, email: &str) -> String {
    set_cookie(
        &sign_in_as(app, email, PASSWORD, "test").await,
        "trailkeep_session",
    )
    .expect("a session")
}

/// A server-function call with a session cookie and/or an API key.
pub fn call(path: &str, cookie: Option<&str>, bearer: Option<&str>, body: Value) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", "application/json");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    if let Some(k) = bearer {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

/// A GET with a session cookie.
pub fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap()
}

/// The console error a server function answered.
pub fn error(r: &Reply) -> ConsoleError {
    serde_json::from_str(&r.text).unwrap_or_else(|_| panic!("a console error: {}", r.text))
}
