//! Console sign-in: the login form's POST (a session cookie) and logout. Who a request's
//! cookie belongs to is `auth`'s.

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;

use super::{
    auth::{challenge_token, login_url, session_token, CHALLENGE_COOKIE, COOKIE},
    client,
    error::ApiError,
    AppState,
};
use crate::domain::auth;
use crate::service::accounts::{self, Acting, SignIn};
use crate::service::two_factor;

fn cookie(state: &AppState, headers: &HeaderMap, value: &str, max_age_secs: i64) -> HeaderValue {
    named_cookie(state, headers, COOKIE, "/", value, max_age_secs)
}

/// The second step's cookie: only the sign-in form's paths receive it.
fn challenge_cookie(
    state: &AppState,
    headers: &HeaderMap,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    named_cookie(
        state,
        headers,
        CHALLENGE_COOKIE,
        "/login",
        value,
        max_age_secs,
    )
}

fn named_cookie(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    path: &str,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    let secure = state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let text = format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).expect("cookie text is ASCII")
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
    let limits = state.sign_in_limits().await.map_err(ApiError::database)?;
    let outcome = accounts::sign_in(
        &state.pool,
        &form.email,
        &form.password,
        ip,
        client::user_agent(&headers),
        limits,
    )
    .await
    .map_err(|e| match e {
        accounts::AccountError::Db(e) => ApiError::database(e),
        other => ApiError::bad_request(other.to_string()),
    })?;
    Ok(answer(
        &state,
        &headers,
        next,
        outcome,
        false,
        (limits.session_hours, limits.window_minutes),
    ))
}

/// Where a sign-in step sends the browser, with which cookies (`code_step`: the answer to the
/// second step, whose challenge cookie goes once it is spent). `session_hours` is how long a
/// session opened here lasts; `lock_minutes`, how long the lockout the last attempts warn of
/// lasts (the page says it: `lock=` beside their refusal code).
fn answer(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    outcome: SignIn,
    code_step: bool,
    (session_hours, lock_minutes): (u32, i32),
) -> Response {
    let lock = lock_minutes.to_string();
    let end_challenge = |mut response: Response| {
        if code_step {
            response
                .headers_mut()
                .append(header::SET_COOKIE, challenge_cookie(state, headers, "", 0));
        }
        response
    };
    let to_code_step = |error: Option<&str>| {
        let mut pairs = vec![("step", "code"), ("next", next)];
        if let Some(e) = error {
            pairs.push(("error", e));
            if e.ends_with('0') || e.ends_with('1') {
                pairs.push(("lock", &lock));
            }
        }
        Redirect::to(&format!(
            "/login?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        ))
        .into_response()
    };
    match outcome {
        SignIn::Ok { token, .. } => {
            let mut response = Redirect::to(next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                cookie(state, headers, &token, i64::from(session_hours) * 3600),
            );
            end_challenge(response)
        }
        SignIn::CodeNeeded { challenge } => {
            let mut response = to_code_step(None);
            response.headers_mut().insert(
                header::SET_COOKIE,
                challenge_cookie(
                    state,
                    headers,
                    &challenge,
                    i64::from(two_factor::CHALLENGE_MINUTES) * 60,
                ),
            );
            response
        }
        SignIn::BadCode { attempts_left } => to_code_step(Some(match attempts_left {
            0 => "code-0",
            1 => "code-1",
            _ => "code",
        })),
        SignIn::ChallengeGone => {
            end_challenge(Redirect::to(&login_url(next, Some("expired"))).into_response())
        }
        // The sign-in page warns before the lock: the last two attempts have codes of their own.
        SignIn::BadCredentials { attempts_left } => {
            let url = match attempts_left {
                0 => locking_url(next, "credentials-0", &lock),
                1 => locking_url(next, "credentials-1", &lock),
                _ => login_url(next, Some("credentials")),
            };
            Redirect::to(&url).into_response()
        }
        SignIn::LockedOut => {
            end_challenge(Redirect::to(&login_url(next, Some("locked"))).into_response())
        }
        SignIn::Throttled => Redirect::to(&login_url(next, Some("throttled"))).into_response(),
    }
}

/// The sign-in page after one of the last attempts before a lockout: its refusal code, and
/// how many minutes the lockout lasts (the page words it; the number is all the URL gives).
fn locking_url(next: &str, code: &str, lock_minutes: &str) -> String {
    format!(
        "{}&{}",
        login_url(next, Some(code)),
        serde_urlencoded::to_string([("lock", lock_minutes)]).unwrap_or_default()
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    next: String,
}

/// The second sign-in step's POST: the code, for the challenge in the cookie the password
/// step set. Without that cookie (expired, used, never set) it starts over.
pub async fn login_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    request_extensions: axum::http::Extensions,
    Form(form): Form<CodeForm>,
) -> Result<Response, ApiError> {
    let next = if auth::is_local_path(&form.next) {
        form.next.as_str()
    } else {
        "/audit"
    };
    let Some(challenge) = challenge_token(&headers) else {
        return Ok(answer(
            &state,
            &headers,
            next,
            SignIn::ChallengeGone,
            true,
            (0, 0),
        ));
    };
    let seal = state.totp_seal();
    let limits = state.sign_in_limits().await.map_err(ApiError::database)?;
    let outcome = accounts::sign_in_code(
        &state.pool,
        seal.as_ref(),
        &challenge,
        &form.code,
        client::ip(&state, &headers, &request_extensions),
        client::user_agent(&headers),
        limits,
        chrono::Utc::now(),
    )
    .await
    .map_err(|e| match e {
        accounts::AccountError::Db(e) => ApiError::database(e),
        other => ApiError::bad_request(other.to_string()),
    })?;
    Ok(answer(
        &state,
        &headers,
        next,
        outcome,
        true,
        (limits.session_hours, limits.window_minutes),
    ))
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
