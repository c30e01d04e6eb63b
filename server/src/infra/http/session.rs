//! Console sign-in: the login form's POST, logout, and the guard that sends signed-out
//! visitors to `/login?next=…`.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;

use super::{client, error::ApiError, AppState};
use crate::domain::auth;
use crate::service::accounts::{self, Acting, SignIn};
use crate::storage::sessions;

pub const COOKIE: &str = "trailkeep_session";

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The user of the request's session cookie, if it is still valid.
pub(super) async fn current_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<app::model::SessionUser> {
    let token = session_token(headers)?;
    sessions::find_user(&state.pool, &auth::sha256(token.as_bytes()))
        .await
        .ok()
        .flatten()
}

fn cookie(state: &AppState, headers: &HeaderMap, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let text = format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).expect("cookie text is ASCII")
}

/// The sign-in page, told why the last attempt failed by a code (`app::pages::login` words
/// it): nothing typed ever travels back in the URL.
fn login_url(next: &str, error: Option<&str>) -> String {
    let mut pairs = vec![("next", next)];
    if let Some(e) = error {
        pairs.push(("error", e));
    }
    format!(
        "/login?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    request_extensions: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = if auth::is_local_path(&form.next) {
        form.next.as_str()
    } else {
        "/audit"
    };
    let ip = client::ip(&state, &headers, &request_extensions);
    let outcome = accounts::sign_in(
        &state.pool,
        &form.email,
        &form.password,
        ip,
        client::user_agent(&headers),
        state.config.sign_in,
    )
    .await
    .map_err(|e| match e {
        accounts::AccountError::Db(e) => ApiError::database(e),
        other => ApiError::bad_request(other.to_string()),
    })?;
    Ok(match outcome {
        SignIn::Ok { token, .. } => {
            let mut response = Redirect::to(next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                cookie(&state, &headers, &token, sessions::SESSION_HOURS * 3600),
            );
            response
        }
        SignIn::BadCredentials => {
            Redirect::to(&login_url(next, Some("credentials"))).into_response()
        }
        SignIn::LockedOut => Redirect::to(&login_url(next, Some("locked"))).into_response(),
        SignIn::Throttled => Redirect::to(&login_url(next, Some("throttled"))).into_response(),
    })
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    request_extensions: axum::http::Extensions,
) -> Result<Response, ApiError> {
    let user = request_extensions.get::<app::model::SessionUser>().cloned();
    if let (Some(token), Some(user)) = (session_token(&headers), user) {
        let by = Acting::user(
            &user,
            client::ip(&state, &headers, &request_extensions),
            client::user_agent(&headers),
        );
        accounts::sign_out(&state.pool, &token, &by)
            .await
            .map_err(|e| match e {
                accounts::AccountError::Db(e) => ApiError::database(e),
                other => ApiError::bad_request(other.to_string()),
            })?;
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, &headers, "", 0));
    Ok(response)
}

/// Paths anyone may fetch: the sign-in form, static assets, the machine API (which checks
/// its own API keys) and the probes.
fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/favicon.ico"
        || path.starts_with("/pkg/")
        || path.starts_with("/assets/")
        || path.starts_with("/api/v1/")
}

/// Resolves the session cookie into a `SessionUser` extension; sends signed-out visitors of
/// console pages to `/login?next=<the page>`.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if let Some(token) = session_token(request.headers()) {
        match sessions::find_user(&state.pool, &auth::sha256(token.as_bytes())).await {
            Ok(Some(user)) => {
                request.extensions_mut().insert(user);
            }
            Ok(None) => {}
            Err(e) => return ApiError::database(e).into_response(),
        }
    }
    let signed_in = request
        .extensions()
        .get::<app::model::SessionUser>()
        .is_some();
    if signed_in || is_public(&path) || path == "/logout" {
        return next.run(request).await;
    }
    if path.starts_with("/api/") {
        return ApiError::new(StatusCode::UNAUTHORIZED, "sign in first").into_response();
    }
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let target = if target == "/" {
        "/audit".to_string()
    } else {
        target
    };
    Redirect::to(&login_url(&target, None)).into_response()
}
