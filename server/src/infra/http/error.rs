//! Every API error is JSON, an [`ErrorBody`] with the right status; [`Refused`] documents the
//! refusals every endpoint shares.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoResponses, ToSchema};

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// The request parameter at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// Per-event problems of a refused batch: `{index, field, message}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub details: Option<Value>,
}

/// What any authenticated endpoint may answer instead of its result (listed once, for the
/// OpenAPI document: `responses(..., Refused)`).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Refused {
    /// A parameter or the body is wrong (named in `param`); nothing was changed.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// Not signed in, and no valid API key.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The role or the key's scope does not allow this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The database cannot be reached; retry later.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Requests that waited for a database connection until the pool gave up (read by
/// `/api/v1/metrics`).
pub static POOL_TIMEOUTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub details: Option<Value>,
    pub param: Option<String>,
    /// Seconds to send as `Retry-After` (a 429 or 503 the client should retry).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            details: None,
            param: None,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Names the offending request parameter in the body (`"param": …`).
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A database failure: 503 when PostgreSQL cannot be reached (retrying makes sense),
    /// 500 otherwise (a bug). The details go to the log, not to the client.
    pub fn database(e: sqlx::Error) -> Self {
        if crate::storage::is_statement_timeout(&e) {
            return Self::too_slow();
        }
        if crate::storage::partitions::is_missing(&e) {
            tracing::error!(error = %e, "the log has no partition for this month");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the log has no partition for this month yet (the server makes them at start-up \
                 and hourly; /readyz says how many months ahead exist); nothing was stored, \
                 retry later",
            )
            .with_retry_after(60);
        }
        if matches!(e, sqlx::Error::PoolTimedOut) {
            POOL_TIMEOUTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let unavailable = crate::storage::is_unavailable(&e);
        if unavailable {
            tracing::warn!(error = %e, "database unavailable");
        } else {
            tracing::error!(error = %e, "database error");
        }
        if unavailable {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable or busy; retry later",
            )
            .with_retry_after(1)
        } else {
            Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

impl ApiError {
    /// A read stopped at the read pool's statement timeout: the same request will be as slow.
    pub fn too_slow() -> Self {
        tracing::warn!("a read query ran into the statement timeout");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the query ran longer than the server allows and was stopped; narrow it (a shorter \
             time range, fewer values, a longer search text) and try again",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            param: self.param,
            details: self.details,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}
