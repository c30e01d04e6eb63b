//! The one way Trailkeep calls out (S3 destinations today): one HTTP client on one TLS stack
//! (rustls with the ring provider, installed once per process), with timeouts, no redirects,
//! no proxy from the environment, and the SSRF guard of `domain::outbound` on every address it
//! connects to — names through its resolver, IP literals before the request is built.

use std::net::SocketAddr;
use std::sync::{Arc, Once};
use std::time::Duration;

use crate::domain::outbound::{OutboundError, Policy};

/// Installs rustls's ring provider as the process's default, once (before any client: without
/// it rustls refuses to build one).
pub fn install_tls() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only when one is installed already: the same provider, by an earlier caller.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// How long an outbound call may take: to connect, between reads, and in all (one S3 part of
/// 8 MiB at 30 kB/s).
pub const CONNECT: Duration = Duration::from_secs(10);
pub const READ: Duration = Duration::from_secs(30);
pub const TOTAL: Duration = Duration::from_secs(300);

/// The guarded client.
#[derive(Clone)]
pub struct Outbound {
    pub client: reqwest::Client,
    pub policy: Arc<Policy>,
}

/// Why an outbound call did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Guard(#[from] OutboundError),
    /// The request failed (connection, timeout, TLS, a refused address): the whole cause.
    #[error("{0}")]
    Http(String),
}

impl From<reqwest::Error> for CallError {
    /// Without the URL: a presigned one carries the access key ID and a signature that is
    /// valid for minutes, and this message is stored in the history and logged.
    fn from(e: reqwest::Error) -> Self {
        CallError::Http(causes(&e.without_url()))
    }
}

/// An error and its causes, one after the other (reqwest's own says only "error sending
/// request"; the guard's refusal or the TLS problem is further down).
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

struct Guarded(Arc<Policy>);

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused = Some(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = match refused {
                    Some(e) => Box::new(e),
                    None => format!("{host} has no address").into(),
                };
                return Err(e);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl Outbound {
    /// The client under `policy`.
    pub fn new(policy: Policy) -> Self {
        install_tls();
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT)
            .read_timeout(READ)
            .timeout(TOTAL)
            .dns_resolver(Guarded(policy.clone()))
            .user_agent(concat!("Trailkeep/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the outbound client builds (ring is installed)");
        Outbound { client, policy }
    }

    /// Checks `url`'s host when it is an address (names are checked as they resolve).
    pub fn check(&self, url: &url::Url) -> Result<(), CallError> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => std::net::IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => std::net::IpAddr::V6(v6),
            _ => return Ok(()),
        };
        Ok(self.policy.check(ip)?)
    }

    /// A request to `url`, once its address passed the guard.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &url::Url,
    ) -> Result<reqwest::RequestBuilder, CallError> {
        self.check(url)?;
        Ok(self.client.request(method, url.as_str()))
    }
}

/// Reads at most `cap` bytes of a response's body (an error's XML; a hostile server's endless
/// one is cut).
pub async fn read_capped(mut response: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= cap {
            break;
        }
    }
    out
}
