//! The one place a browser's cross-site request is refused. A request that carries the
//! console's cookie (no `Authorization` header) and changes state (any method but GET, HEAD and
//! OPTIONS: sign-in, sign-out, server functions) or opens an export (which records
//! `export.downloaded`) or a live socket must come from Trailkeep's own pages: `Sec-Fetch-Site`,
//! when the browser sends it, must be `same-origin` (or `none`, typed or bookmarked), and
//! `Origin`, when sent, must be this server's scheme, host and port exactly. Requests without
//! either header are not from a browser page (curl, scripts), which holds no cookie of ours
//! unless given one. Server functions also take only `application/json`, which a cross-site
//! form cannot send without a CORS preflight this server never grants.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{error::ApiError, AppState};

/// GET routes that act for the user as a POST would.
const GUARDED_READS: &[&str] = &["/api/v1/events/export", "/api/v1/live"];

/// A GET that acts for the user: [`GUARDED_READS`], and a history download (also recorded as
/// `export.downloaded`).
fn guarded_read(path: &str) -> bool {
    GUARDED_READS.contains(&path)
        || (path.starts_with("/api/v1/exports/runs/") && path.ends_with("/download"))
}

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let path = request.uri().path();
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let ambient = !headers.contains_key(header::AUTHORIZATION);
    if ambient && (changes || guarded_read(path)) && !from_us(headers, state.config.secure_cookies)
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-site request refused: use Trailkeep's own pages, or an API key",
        )
        .into_response();
    }
    if changes && is_server_function(path) && !is_json(headers) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the console's server functions take Content-Type: application/json",
        )
        .into_response();
    }
    next.run(request).await
}

/// The console's server functions live under `/api/` beside the versioned REST API.
fn is_server_function(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/v1/")
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether a browser says this request comes from one of our own pages. `https`: this server
/// is reached over HTTPS (`TRAILKEEP_SECURE_COOKIES`, or a proxy's `X-Forwarded-Proto`).
pub(super) fn from_us(headers: &HeaderMap, https: bool) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = text(header::ORIGIN) else {
        return true;
    };
    let https = https
        || text(header::HeaderName::from_static("x-forwarded-proto"))
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    match text(header::HOST) {
        Some(host) => origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_our_scheme_host_and_port_are_us() {
        let host = ("host", "trailkeep.test:3000");
        assert!(from_us(
            &headers(&[host, ("origin", "http://trailkeep.test:3000")]),
            false
        ));
        assert!(from_us(&headers(&[host]), false));
        for origin in [
            "https://trailkeep.test:3000",
            "http://trailkeep.test",
            "http://trailkeep.test:3001",
            "http://evil.test",
            "null",
            "http://trailkeep.test:3000.evil.test",
        ] {
            assert!(
                !from_us(&headers(&[host, ("origin", origin)]), false),
                "{origin}"
            );
        }
        assert!(from_us(
            &headers(&[host, ("origin", "https://trailkeep.test:3000")]),
            true
        ));
        assert!(!from_us(
            &headers(&[host, ("origin", "http://trailkeep.test:3000")]),
            true
        ));
        assert!(from_us(
            &headers(&[
                host,
                ("origin", "https://trailkeep.test:3000"),
                ("x-forwarded-proto", "https")
            ]),
            false
        ));
        for site in ["cross-site", "same-site"] {
            assert!(
                !from_us(&headers(&[host, ("sec-fetch-site", site)]), false),
                "{site}"
            );
        }
        assert!(from_us(
            &headers(&[host, ("sec-fetch-site", "same-origin")]),
            false
        ));
    }
}
