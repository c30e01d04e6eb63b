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
    auth::{login_url, session_token, COOKIE},
    client,
    error::ApiError,
    AppState,
};
use crate::domain::auth;
use crate::service::accounts::{self, Acting, SignIn};
use crate::storage::sessions;

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
        // The sign-in page warns before the lock: the last two attempts have codes of their own.
        SignIn::BadCredentials { attempts_left } => {
            let code = match attempts_left {
                0 => "credentials-0",
                1 => "credentials-1",
                _ => "credentials",
            };
            Redirect::to(&login_url(next, Some(code))).into_response()
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
