//! Real `trailkeep serve` processes for the tests that need several, or need to kill one, and
//! one-shot HTTP/1.1 requests to them on connections of their own.

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server process, killed when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub process: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the processes serving the database at `url` keep its log key (a temporary file).
pub fn key_file(url: &str) -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut h);
    std::env::temp_dir().join(format!("trailkeep-test-{:016x}.key", h.finish()))
}

/// `trailkeep serve` on a free port of loopback against `url`, with `env` besides; returns
/// once `/healthz` answers from it. A port chosen free can be taken before serve binds it: serve
/// then exits, and another port is tried (and an answer counts only while our process runs).
pub async fn start(url: &str, env: &[(&str, &str)]) -> Server {
    for _ in 0..5 {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_trailkeep"));
        command
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("LEPTOS_SITE_ADDR", addr.to_string())
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("TRAILKEEP_LOG_LEVEL", "error")
            // One log key per database, shared by its processes, outside the source tree.
            .env("TRAILKEEP_KEY_FILE", key_file(url));
        for (k, v) in env {
            command.env(k, v);
        }
        let mut server = Server {
            addr,
            process: command.spawn().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if server.process.try_wait().unwrap().is_some() {
                break; // exited: most likely the port was taken meanwhile
            }
            if let Ok((200, _)) = http(addr, "/healthz", None, None).await {
                if server.process.try_wait().unwrap().is_none() {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if server.process.try_wait().unwrap().is_none() {
            panic!("trailkeep serve did not come up on {addr} within 15 s");
        }
    }
    panic!("trailkeep serve exited five times on ports chosen free");
}

/// One request on its own connection: a JSON `POST` with `body`, else a `GET`. Status and
/// body; an error when the connection fails or ends without an HTTP answer.
pub async fn http(
    addr: SocketAddr,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let request = match body {
        Some(body) => format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        None => format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"),
    };
    stream.write_all(request.as_bytes()).await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP reply: {reply:?}")))?;
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}
