//! The HTTP server loop. Every connection the process holds is bounded: at most
//! `max_connections` are open at once (the rest wait in the kernel's backlog, costing this
//! process nothing); a request's head must arrive whole within `header_read`, so a client that
//! trickles bytes (slowloris) or opens a socket and says nothing is dropped; a request must
//! produce its response within `request` (a 503 JSON error otherwise; streamed bodies such as
//! exports and live sockets are bounded by their own caps, not by this); a client that stops
//! reading loses its connection once a write has waited `write_stall`. On shutdown the loop
//! stops accepting, lets requests in flight finish for up to `grace`, then returns.
//!
//! It is what `axum::serve` does, plus those bounds, on the same crates (hyper, hyper-util).

use std::future::Future;
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
use std::time::Duration;

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    Router,
};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

use super::error::ApiError;

/// HTTP connections open now, in this process (for `/api/v1/metrics`).
static OPEN: AtomicUsize = AtomicUsize::new(0);

pub fn open_connections() -> usize {
    OPEN.load(Ordering::Relaxed)
}

/// The bounds of the HTTP server (`TRAILKEEP_HTTP_*`, see `infra::config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time for a request's whole head (request line and headers) to arrive.
    pub header_read: Duration,
    /// Time for a request to produce its response (not to stream its body).
    pub request: Duration,
    /// Time a response may wait for a client that reads nothing (its socket buffer full).
    pub write_stall: Duration,
    /// Time requests in flight get to finish once shutdown starts.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(60),
            write_stall: Duration::from_secs(60),
            grace: Duration::from_secs(20),
        }
    }
}

/// The process is shutting down. The server loop stops accepting; long-lived responses (live
/// sockets) end themselves, telling their clients to reconnect (to another process, or to
/// this one after its restart).
#[derive(Clone, Debug)]
pub struct Shutdown(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Shutdown {
    pub fn begin(&self) {
        self.0.send_replace(true);
    }

    /// Completes once shutdown has begun.
    pub async fn started(&self) {
        let mut seen = self.0.subscribe();
        let _ = seen.wait_for(|started| *started).await;
    }
}

/// A response that took longer than `limit` to start becomes a 503 JSON error and the handler
/// is dropped. (A read's statement is bounded by the read pool's own statement timeout; the
/// connection returns to its pool once PostgreSQL has finished with it.)
pub async fn request_deadline(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {} s and was stopped; narrow it (a shorter time \
                 range, fewer values) or retry",
                limit.as_secs()
            ),
        )
        .with_retry_after(1)
        .into_response(),
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    // Tells every open connection to finish its request in flight and close.
    let (draining, drain) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The router as hyper calls it, with the peer's address where `ConnectInfo` finds it.
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(addr));
            let mut app = app.clone();
            async move { app.call(request.map(Body::new)).await }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read)
            .serve_connection(
                TokioIo::new(StallLimit::new(stream, limits.write_stall)),
                service,
            )
            .with_upgrades();
        let mut drain = drain.clone();
        OPEN.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let draining = async move {
                let _ = drain.wait_for(|draining| *draining).await;
            };
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = draining => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, %addr, "connection ended with an error");
            }
            OPEN.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(
        grace_seconds = limits.grace.as_secs(),
        "shutting down: no new connections; finishing requests in flight"
    );
    draining.send_replace(true);
    // Every connection holds a permit until it has closed: all of them back means all done.
    let all_closed = permits.acquire_many(max as u32);
    if tokio::time::timeout(limits.grace, all_closed)
        .await
        .is_err()
    {
        tracing::warn!(
            grace_seconds = limits.grace.as_secs(),
            "requests still running after the grace period were cut off"
        );
    }
}

/// A socket whose writes fail once one has made no progress for `limit`: a client that stops
/// reading (its receive window full) cannot hold a connection, and the response's memory, for
/// ever. Any progress starts the clock again.
struct StallLimit {
    inner: tokio::net::TcpStream,
    limit: Duration,
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl StallLimit {
    fn new(inner: tokio::net::TcpStream, limit: Duration) -> Self {
        StallLimit {
            inner,
            limit,
            stalled: None,
        }
    }

    /// What a write (or flush) of the socket returned, held to the limit: progress starts the
    /// clock again; no progress is pending until the limit, then an error.
    fn held<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        polled: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client read nothing for too long",
            ))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

impl tokio::io::AsyncRead for StallLimit {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for StallLimit {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.held(cx, polled)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.held(cx, polled)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
