//! The HTTP server loop's bounds over real sockets: a request head that trickles in (slowloris)
//! or never comes is dropped at the header timeout, connections beyond the limit wait, a
//! response that does not start in time is a 503 JSON error, and shutdown finishes requests in
//! flight while refusing new connections.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::{middleware, routing::get, Router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use trailkeep::infra::http::serve::{request_deadline, serve, Limits};

fn app(deadline: Duration) -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/big", get(|| async { vec![b'x'; 64 << 20] }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
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
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app(deadline), limits, async move {
        let _ = stopped.await;
    }));
    (addr, stop, server)
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

#[tokio::test]
async fn a_trickled_or_silent_request_head_is_dropped_at_the_header_timeout() {
    let (addr, _stop, _server) = start(limits(600, 64), Duration::from_secs(60)).await;

    // Slowloris: a header line every 150 ms, never the blank line that ends the head.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut writes = 0;
    while started.elapsed() < Duration::from_secs(3) {
        if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
            break;
        }
        writes += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let dropped = closed_after(&mut slow, Duration::from_secs(3)).await;
    assert!(
        dropped.is_some() && started.elapsed() < Duration::from_secs(4),
        "the trickling connection was held {:?} after {writes} writes",
        started.elapsed()
    );

    // A connection that says nothing at all.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let held = closed_after(&mut silent, Duration::from_secs(5))
        .await
        .expect("a silent connection is closed");
    assert!(held < Duration::from_secs(3), "held {held:?}");

    // Well-behaved clients are served meanwhile and after.
    assert_eq!(get_once(addr, "/ok").await, (200, "ok".into()));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop, _server) = start(limits(600, 64), Duration::from_secs(60)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let held = closed_after(&mut s, Duration::from_secs(5))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(held < Duration::from_secs(3), "held {held:?}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let (addr, _stop, _server) = start(limits(1500, 2), Duration::from_secs(60)).await;
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Both places are taken by silent sockets: the third client waits until the header
    // timeout frees one, then is served.
    let started = Instant::now();
    assert_eq!(get_once(addr, "/ok").await, (200, "ok".into()));
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_millis(1000) && waited < Duration::from_secs(5),
        "waited {waited:?}"
    );
}

#[tokio::test]
async fn a_response_that_does_not_start_in_time_is_a_503_json_error() {
    let (addr, _stop, _server) = start(limits(5000, 64), Duration::from_millis(200)).await;
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
    let (addr, stop, server) = start(limits(5000, 64), Duration::from_secs(60)).await;
    let in_flight = tokio::spawn(get_once(addr, "/slow"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed once shutdown begins"
    );
    assert_eq!(in_flight.await.unwrap(), (200, "finished".into()));
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns once the last request finished")
        .unwrap();
}

#[tokio::test]
async fn a_client_that_stops_reading_loses_its_connection() {
    let (addr, _stop, _server) = start(limits(5000, 1), Duration::from_secs(60)).await;
    // Asks for 64 MB and reads none of it: the only place is taken until the write stalls out.
    let mut greedy = TcpStream::connect(addr).await.unwrap();
    greedy
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let served = tokio::time::timeout(Duration::from_secs(10), get_once(addr, "/ok"))
        .await
        .expect("the next client is served once the stalled one is dropped");
    assert_eq!(served, (200, "ok".into()));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "waited {waited:?}");
    drop(greedy);
}
