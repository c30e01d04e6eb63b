//! The one place a console server function's error gets its HTTP status. Leptos answers every
//! server-function error with 500; this layer reads such an answer's body (a [`ConsoleError`],
//! a few bytes) and gives it the status its variant means ([`ConsoleError::status`]): a refused
//! filter is a 400, a missing saved search a 404, a store that cannot answer a 503. What is not
//! a console error stays as it was.

use app::error::ConsoleError;
use axum::{
    body::{to_bytes, Body},
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::Response,
};

/// A console error's body is small; anything larger is not one.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn statuses(request: Request, next: Next) -> Response {
    let console = {
        let path = request.uri().path();
        path.starts_with("/api/") && !path.starts_with("/api/v1/")
    };
    let response = next.run(request).await;
    if !console || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    // The body as the console's JSON encoding writes a `ConsoleError`; anything else stays.
    if let Ok(error) = serde_json::from_slice::<ConsoleError>(&bytes) {
        if let Ok(code) = StatusCode::from_u16(error.status()) {
            parts.status = code;
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
