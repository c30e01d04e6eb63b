//! Security headers on every response. HTML pages get a Content-Security-Policy whose only
//! inline scripts are Leptos' hydration scripts, allowed by a per-response nonce
//! ([`page_policy`], set while the page renders); everything else gets one without inline
//! script. `nosniff`, `Referrer-Policy: same-origin` and framing refused everywhere; HSTS
//! when the server is told it is behind HTTPS (`TRAILKEEP_SECURE_COOKIES=1`).
//!
//! `Cache-Control: no-store` on every response that does not set its own (only the immutable
//! bundle does): a page or an answer carrying log data never stays in a browser's cache, so
//! Back after Sign out on a shared workstation shows the sign-in page, not the log.

use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use leptos::prelude::*;
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of a console page rendered with `nonce`: scripts only from this origin or
/// carrying the nonce, WebAssembly compiled from this origin, no plugins, no framing. Inline
/// `style` attributes stay allowed (the table's spacer rows are sized with them).
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Every other response (API JSON, assets, error pages): no inline script at all.
const OTHER_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Inside a page's render (the Leptos route context): sets its CSP with the nonce Leptos put
/// on the hydration scripts.
pub fn set_page_policy() {
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce)) {
            response.insert_header(header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// Adds the headers every response carries (a page's own CSP is kept).
pub fn layer<S: Clone + Send + Sync + 'static>(router: Router<S>, https: bool) -> Router<S> {
    let fixed = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    let router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(OTHER_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(fixed(header::REFERRER_POLICY, "same-origin"))
        .layer(fixed(header::X_FRAME_OPTIONS, "DENY"));
    if https {
        router.layer(fixed(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        router
    }
}
