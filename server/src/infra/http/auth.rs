//! Who is calling: the one place that answers it, for routes (the extractors [`Reader`],
//! [`Ingester`], [`Known`], [`AlertAdmin`], [`AlertViewer`]), for the console's pages and server functions (the [`guard`]
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

/// Who configures alerting: a signed-in admin, or a key with scopes `admin` and `read`.
pub enum AlertAdmin {
    User(app::model::SessionUser),
    Key(ApiKeyRow),
}

impl FromRequestParts<AppState> for AlertAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let key = require_key(state, &parts.headers, Scope::Admin).await?;
            // A rule and a channel send entries out: configuring them is reading the log.
            if !key.has_scope(Scope::Read) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "this API key lacks the read scope: alerting sends entries out, so a key \
                     that configures it needs both admin and read",
                ));
            }
            return Ok(AlertAdmin::Key(key));
        }
        match parts.extensions.get::<app::model::SessionUser>() {
            Some(user) if user.role == app::model::Role::Admin => Ok(AlertAdmin::User(user.clone())),
            Some(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "only admins configure alerting",
            )),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "sign in as an admin, or send an API key with scope admin: Authorization: Bearer tk_…",
            )),
        }
    }
}

/// Who reads alerting's configuration and history: a signed-in admin or compliance officer,
/// or a key with scope `admin`.
pub struct AlertViewer;

impl FromRequestParts<AppState> for AlertViewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return require_key(state, &parts.headers, Scope::Admin)
                .await
                .map(|_| AlertViewer);
        }
        match parts.extensions.get::<app::model::SessionUser>() {
            Some(user) if user.role.can_read_log() => Ok(AlertViewer),
            Some(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "only admins and compliance officers see alerting",
            )),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "sign in, or send an API key with scope admin: Authorization: Bearer tk_…",
            )),
        }
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

/// The request's session, if its cookie names one still live under the current settings
/// (`touch`: note its use, as a request does and a live socket's check does not).
async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
    touch: bool,
) -> Result<Option<(sessions::Found, app::settings::Settings)>, sqlx::Error> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let settings = state.settings.current().await?;
    let lifetime = crate::service::settings::session_lifetime(&settings);
    Ok(sessions::find(
        &state.pool,
        &auth::sha256(token.as_bytes()),
        lifetime,
        touch,
    )
    .await?
    .map(|found| (found, settings)))
}

/// Whether `found`'s user must set up a second factor before anything else.
fn must_enrol(found: &sessions::Found, settings: &app::settings::Settings) -> bool {
    settings.require_two_factor.applies_to(found.user.role) && !found.has_two_factor
}

/// The user of the request's session cookie, if it is still valid (and not waiting to set up
/// a second factor the settings require).
pub(super) async fn current_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<app::model::SessionUser> {
    current_session(state, headers, false)
        .await
        .ok()
        .flatten()
        .filter(|(found, settings)| !must_enrol(found, settings))
        .map(|(found, _)| found.user)
}

/// What a user who must set up a second factor may still reach: the Account page, the calls
/// that set it up (the password confirmation included), who they are, and Sign out.
fn allowed_before_enrolment(path: &str) -> bool {
    use app::api::{
        account::{BeginTwoFactor, ConfirmPassword, ConfirmTwoFactor, MyTwoFactor},
        SiteName, Whoami,
    };
    use leptos::server_fn::ServerFn;
    path == "/account"
        || path == "/logout"
        || path == <Whoami as ServerFn>::PATH
        || path == <SiteName as ServerFn>::PATH
        || path == <MyTwoFactor as ServerFn>::PATH
        || path == <BeginTwoFactor as ServerFn>::PATH
        || path == <ConfirmTwoFactor as ServerFn>::PATH
        || path == <ConfirmPassword as ServerFn>::PATH
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
        // The site's name, which the sign-in and invitation pages show.
        || path == <app::api::SiteName as ServerFn>::PATH
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
    match current_session(&state, request.headers(), true).await {
        Ok(Some((found, settings))) => {
            // An API key sent with the cookie speaks for itself (the API checks it).
            let keyed = request.headers().contains_key(header::AUTHORIZATION);
            if must_enrol(&found, &settings) && !allowed_before_enrolment(&path) && !keyed {
                // Assets and the sign-in pages load as for anyone; nothing else does.
                if path.starts_with("/api/v1/") || !is_public(&path) {
                    return enrol_first(&path);
                }
                return next.run(request).await;
            }
            let hash = session_token(request.headers())
                .map(|t| auth::sha256(t.as_bytes()))
                .unwrap_or_default();
            request.extensions_mut().insert(found.user);
            request
                .extensions_mut()
                .insert(app::backend::CurrentSession {
                    hash,
                    id: found.id,
                    recently_proven: found.recently_proven,
                });
        }
        Ok(None) => {}
        Err(e) => return ApiError::database(e).into_response(),
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

/// The answer to a user who must set up a second factor first: the Account page, or for a
/// call the console's own error (or the API's), never what was asked.
fn enrol_first(path: &str) -> Response {
    if path.starts_with("/api/v1/") {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "two-factor sign-in is required for this account: set it up on /account first",
        )
        .into_response();
    }
    if path.starts_with("/api/") {
        use leptos::server_fn::error::FromServerFnError;
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            app::error::ConsoleError::EnrolFirst.ser(),
        )
            .into_response();
    }
    Redirect::to("/account?enrol=required").into_response()
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
