//! Facts about the calling client: its address, user agent, credentials.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderMap, StatusCode},
};

use super::{error::ApiError, AppState};
use crate::{
    domain::auth::{self, Scope},
    storage::api_keys::{self, ApiKeyRow},
};

/// The peer address. Behind a reverse proxy, set `TRAILKEEP_TRUST_PROXY=1` to take the last
/// address of `X-Forwarded-For` instead (never trusted otherwise: clients can forge it).
pub fn ip(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<IpAddr> {
    if state.config.trust_proxy {
        if let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(2048).collect())
}

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

/// The unrevoked key sent as `Authorization: Bearer tk_…`, if any.
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
    api_keys::find_active(&state.pool, &auth::sha256(token.as_bytes()))
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
