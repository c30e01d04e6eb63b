//! Two real `trailkeep serve` processes on one database: an entry ingested through one
//! reaches live clients of the other (each process runs its own bridge).

mod common;

use std::time::Duration;

use app::live::LiveMessage;
use common::{entries_through, key, live, next_message};
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trailkeep::domain::auth::Scope;

struct Server {
    addr: std::net::SocketAddr,
    process: std::process::Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn start(url: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let process = std::process::Command::new(env!("CARGO_BIN_EXE_trailkeep"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("LEPTOS_SITE_ADDR", addr.to_string())
        .env("LEPTOS_SITE_ROOT", "target/site")
        .spawn()
        .unwrap();
    let server = Server { addr, process };
    for _ in 0..150 {
        if let Ok((200, _)) = http(addr, "GET", "/healthz", None, "").await {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("trailkeep serve did not come up on {addr}");
}

/// A one-shot HTTP/1.1 request: status and body.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    stream
        .write_all(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}

async fn ingest(server: &Server, key: &str, action: &str) -> i64 {
    let body = serde_json::json!([{"action": action, "actor": {"id": "u1"}}]).to_string();
    let (status, reply) = http(server.addr, "POST", "/api/v1/events", Some(key), &body)
        .await
        .unwrap();
    assert_eq!(status, 201, "{reply}");
    let reply: Value = serde_json::from_str(&reply).unwrap();
    reply["entries"][0]["seq"].as_i64().unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_entry_ingested_on_one_process_reaches_clients_of_the_other(pool: PgPool) {
    let url = common::url_of(&pool).await;
    let (a, b) = (start(&url).await, start(&url).await);
    let k = key(&pool, &[Scope::Ingest, Scope::Read]).await;
    let wait = Duration::from_secs(10);
    let mut on_a = live(a.addr, &k, "action=config.*").await;
    let mut on_b = live(b.addr, &k, "action=config.*").await;
    for socket in [&mut on_a, &mut on_b] {
        assert!(matches!(
            next_message(socket, wait).await,
            Some(LiveMessage::Status { .. })
        ));
    }
    let first = ingest(&a, &k, "config.deployed").await;
    let second = ingest(&b, &k, "config.updated").await;
    for socket in [&mut on_a, &mut on_b] {
        let got = entries_through(socket, second, wait).await;
        let seqs: Vec<i64> = got.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [first, second]);
        assert_eq!(got[0].action, "config.deployed");
    }
}
