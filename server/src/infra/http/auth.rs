//! Who is calling: the one place that answers it, for routes (the extractors [`Reader`],
//! [`Ingester`], [`Known`]), for the console's pages and server functions (the [`guard`]
//! resolves the session cookie into a `SessionUser` extension, which `app::api` reads), and
//! for live sockets, which ask again while they run ([`still_reader`]). An API key is sent as
//! `Authorization: Bearer tk_…` and found by its SHA-256; a session by its cookie's SHA-256.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use super::{error::ApiError, AppState};
use crate::{
    domain::auth::{self, Scope},
    storage::{api_keys::ApiKeyRow, sessions},
};

pub const COOKIE: &str = "trailkeep_session";
/// The second sign-in step's cookie: sent only to `/login` (its path), for 5 minutes.
pub const CHALLENGE_COOKIE: &str = "trailkeep_challenge";

/// Who reads the log: a signed-in admin or compliance officer, or a key with scope `read`.
/// As a handler argument it is the check: anyone else gets the 401 or 403 first.
pub enum Reader {
    User(app::model::SessionUser),
    Key(ApiKeyRow),
}

impl Reader {
    /// The user's or key's id: what per-reader caps count by.
    pub fn id(&self) -> uuid::Uuid {
        match self {
            Reader::User(user) => user.id,
            Reader::Key(key) => key.id,
        }
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        require_reader(state, &parts.headers, &parts.extensions).await
    }
}

/// The API key of a request that appends events: active, with scope `ingest`.
pub struct Ingester(pub ApiKeyRow);

impl FromRequestParts<AppState> for Ingester {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        require_key(state, &parts.headers, Scope::Ingest)
            .await
            .map(Ingester)
    }
}

/// Anyone Trailkeep knows: a signed-in user of any role, or any active API key.
pub struct Known;

impl FromRequestParts<AppState> for Known {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        require_known(state, &parts.headers, &parts.extensions)
            .await
            .map(|()| Known)
    }
}

async fn require_reader(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Result<Reader, ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        return require_key(state, headers, Scope::Read)
            .await
            .map(Reader::Key);
    }
    match extensions.get::<app::model::SessionUser>() {
        Some(user) if user.role.can_read_log() => Ok(Reader::User(user.clone())),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only admins and compliance officers can read the audit log",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "sign in, or send an API key with scope read: Authorization: Bearer tk_…",
        )),
    }
}

/// The live key sent as `Authorization: Bearer tk_…`, if any (not revoked, not expired; a
/// rotated key's previous secret until its grace end).
async fn active_key(state: &AppState, headers: &HeaderMap) -> Result<Option<ApiKeyRow>, ApiError> {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(auth::API_KEY_PREFIX))
    else {
        return Ok(None);
    };
    crate::service::keys::authenticate(&state.pool, token, chrono::Utc::now())
        .await
        .map_err(ApiError::database)
}

async fn require_known(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Result<(), ApiError> {
    if extensions.get::<app::model::SessionUser>().is_some() {
        return Ok(());
    }
    match active_key(state, headers).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "sign in, or send an API key",
        )),
    }
}

/// The API key of `Authorization: Bearer …`, which must be active and hold `scope`.
pub async fn require_key(
    state: &AppState,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<ApiKeyRow, ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a valid API key is required: Authorization: Bearer tk_…",
        )
    };
    let key = active_key(state, headers).await?.ok_or_else(unauthorized)?;
    if !key.has_scope(scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this API key lacks the {} scope", scope.as_str()),
        ));
    }
    Ok(key)
}

/// Whether a live socket's credentials still may read the log (key not revoked, session not
/// ended, role not changed): asked while the socket runs.
pub async fn still_reader(state: &AppState, headers: &HeaderMap) -> bool {
    if headers.contains_key(header::AUTHORIZATION) {
        require_key(state, headers, Scope::Read).await.is_ok()
    } else {
        current_user(state, headers)
            .await
            .is_some_and(|u| u.role.can_read_log())
    }
}

pub(super) fn session_token(headers: &HeaderMap) -> Option<String> {
    token_cookie(headers, COOKIE)
}

/// The second step of a sign-in under way: the challenge the password step issued.
pub(super) fn challenge_token(headers: &HeaderMap) -> Option<String> {
    token_cookie(headers, CHALLENGE_COOKIE)
}

/// Cookie `name`, if it holds a token as Trailkeep issues them (64 hex digits).
fn token_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
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

/// Paths anyone may fetch: the sign-in form, static assets, the machine API (which checks
/// its own API keys) and the probes.
fn is_public(path: &str) -> bool {
    use leptos::server_fn::ServerFn;
    path == "/login"
        // The second sign-in step: its challenge cookie is the credential.
        || path == "/login/code"
        // The invitee's page and its two server functions: the token is the credential.
        || path == "/invite"
        || path == <app::api::invitations::ReadInvitation as ServerFn>::PATH
        || path == <app::api::invitations::AcceptInvitation as ServerFn>::PATH
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
    // Who and from where, for the entries the console's changes write.
    let facts = app::backend::ClientFacts {
        ip: super::client::ip(&state, request.headers(), request.extensions()),
        user_agent: super::client::user_agent(request.headers()),
    };
    request.extensions_mut().insert(facts);
    if let Some(token) = session_token(request.headers()) {
        let hash = auth::sha256(token.as_bytes());
        match sessions::find_user(&state.pool, &hash).await {
            Ok(Some(user)) => {
                request.extensions_mut().insert(user);
                request
                    .extensions_mut()
                    .insert(app::backend::CurrentSession(hash));
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
        // A console server function (the machine API under /api/v1/ is public to the guard):
        // answered with the console's own error, which the page reads as "session ended".
        use leptos::server_fn::error::FromServerFnError;
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            app::error::ConsoleError::SignedOut.ser(),
        )
            .into_response();
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

/// The sign-in page, told why the last attempt failed by a code (`app::pages::login` words
/// it): nothing typed ever travels back in the URL.
pub(super) fn login_url(next: &str, error: Option<&str>) -> String {
    let mut pairs = vec![("next", next)];
    if let Some(e) = error {
        pairs.push(("error", e));
    }
    format!(
        "/login?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}
