//! The HTTP server loop's bounds over real sockets: a request head that trickles in (slowloris)
//! or never comes is dropped at the header timeout, connections beyond the limit wait, a
//! response that does not start in time is a 503 JSON error, and shutdown finishes requests in
//! flight while refusing new connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::{middleware, routing::get, Router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use trailkeep::infra::http::serve::{request_deadline, serve, Limits};

/// `/slow` answers when the test releases it, and says when a request has reached it: the
/// tests wait for these instead of sleeping.
#[derive(Clone, Default)]
struct Gate {
    entered: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

fn app(deadline: Duration, gate: Gate) -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/big", get(|| async { vec![b'x'; 64 << 20] }))
        .route(
            "/slow",
            get(move || async move {
                gate.entered.notify_one();
                gate.release.notified().await;
                "finished"
            }),
        )
        .layer(middleware::from_fn(move |request, next| {
            request_deadline(deadline, request, next)
        }))
}

async fn start(
    limits: Limits,
    deadline: Duration,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    Gate,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gate = Gate::default();
    let server = tokio::spawn(serve(
        listener,
        app(deadline, gate.clone()),
        limits,
        async move {
            let _ = stopped.await;
        },
    ));
    (addr, stop, server, gate)
}

fn limits(header_read_ms: u64, max_connections: usize) -> Limits {
    Limits {
        max_connections,
        header_read: Duration::from_millis(header_read_ms),
        request: Duration::from_secs(60),
        write_stall: Duration::from_millis(1000),
        grace: Duration::from_secs(5),
    }
}

/// Sends a whole GET and reads the reply to its end: status and body.
async fn get_once(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).await.unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

/// Waits until the server closes `s` (EOF or reset); how long that took.
async fn closed_after(s: &mut TcpStream, patience: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(patience, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {} // a 408 or similar before the close
        }
    }
}

// The timeouts below are the behaviour under test (a connection is dropped at the header
// timeout, 600 ms here), not performance: each is checked against a deadline many times longer
// (10 s), so that only a connection held as long as its client likes fails.
const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_trickled_or_silent_request_head_is_dropped_at_the_header_timeout() {
    let (addr, _stop, _server, _) = start(limits(600, 64), Duration::from_secs(60)).await;

    // Slowloris: a header line every 150 ms (a client's pace, not a wait), never the blank line
    // that ends the head, for as long as the connection lasts (at most PATIENCE).
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut writes = 0;
    while started.elapsed() < PATIENCE {
        if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
            break;
        }
        writes += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let dropped = closed_after(&mut slow, Duration::from_secs(1)).await;
    assert!(
        dropped.is_some() && started.elapsed() < PATIENCE,
        "the trickling connection was held {:?} after {writes} writes",
        started.elapsed()
    );

    // A connection that says nothing at all.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    closed_after(&mut silent, PATIENCE)
        .await
        .expect("a silent connection is closed");

    // Well-behaved clients are served meanwhile and after.
    assert_eq!(get_once(addr, "/ok").await, (200, "ok".into()));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop, _server, _) = start(limits(600, 64), Duration::from_secs(60)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    closed_after(&mut s, PATIENCE)
        .await
        .expect("an idle keep-alive connection is closed");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let (addr, _stop, _server, _) = start(limits(1500, 2), Duration::from_secs(60)).await;
    // Connected (the handshake done) before the third: the listener takes connections in the
    // order they queued, so both places go to these silent sockets, no pause needed.
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    // The third client waits until the header timeout (1.5 s) frees one, then is served: at
    // least about that long (the behaviour), and within PATIENCE (not held forever).
    let started = Instant::now();
    let served = tokio::time::timeout(PATIENCE, get_once(addr, "/ok"))
        .await
        .expect("the third client is served once a place is freed");
    assert_eq!(served, (200, "ok".into()));
    let waited = started.elapsed();
    assert!(waited > Duration::from_millis(1000), "waited {waited:?}");
}

#[tokio::test]
async fn a_response_that_does_not_start_in_time_is_a_503_json_error() {
    // `/slow` is never released: only the deadline answers it.
    let (addr, _stop, _server, _) = start(limits(5000, 64), Duration::from_millis(200)).await;
    let (status, body) = get_once(addr, "/slow").await;
    assert_eq!(status, 503, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("narrow it"),
        "{body}"
    );
    assert_eq!(get_once(addr, "/ok").await, (200, "ok".into()));
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_takes_no_new_ones() {
    let (addr, stop, server, gate) = start(limits(5000, 64), Duration::from_secs(60)).await;
    let in_flight = tokio::spawn(get_once(addr, "/slow"));
    gate.entered.notified().await;
    stop.send(()).unwrap();
    // The listener closes once shutdown begins (while the request is still held).
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the listener is closed once shutdown begins"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gate.release.notify_one();
    assert_eq!(in_flight.await.unwrap(), (200, "finished".into()));
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns once the last request finished")
        .unwrap();
}

#[tokio::test]
async fn a_client_that_stops_reading_loses_its_connection() {
    let (addr, _stop, _server, _) = start(limits(5000, 1), Duration::from_secs(60)).await;
    // Asks for 64 MB and reads only the start of it: the only place is taken until the write
    // stalls out.
    let mut greedy = TcpStream::connect(addr).await.unwrap();
    greedy
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    greedy.read_exact(&mut head).await.unwrap();
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "the response has started"
    );
    let started = Instant::now();
    let served = tokio::time::timeout(PATIENCE, get_once(addr, "/ok"))
        .await
        .expect("the next client is served once the stalled one is dropped");
    assert_eq!(served, (200, "ok".into()));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "waited {waited:?}");
    drop(greedy);
}
