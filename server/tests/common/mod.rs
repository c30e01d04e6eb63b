//! Helpers shared by the integration tests (each test has its own database via #[sqlx::test]).

#![allow(dead_code)]

pub mod alerts;
pub mod console;
pub mod exports;
pub mod processes;

use axum::{body::Body, http::Request, Router};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;
use trailkeep::{
    domain::auth::Scope,
    infra::{config::Config, http},
    service::accounts::{self, Acting},
};

/// The HTTP router as `serve` builds it: its pools connect as `trailkeep_writer` (the server's
/// role), never as the test's superuser, so a missing or excessive grant fails the tests.
pub async fn router(pool: &PgPool) -> Router {
    router_with_key(pool, None).await
}

/// [`router`] with the log's verifier key, as `serve` has it.
pub async fn router_with_key(
    pool: &PgPool,
    key: Option<&trailkeep::domain::integrity::checkpoint::VerifierKey>,
) -> Router {
    router_with(pool, key, Config::default()).await
}

/// [`router`] holding the log's signing key, as `serve` does: exports sign on demand.
pub async fn router_signing(
    pool: &PgPool,
    key: &trailkeep::domain::integrity::checkpoint::SigningKey,
) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("trailkeep")
        .site_root("target/site")
        .build();
    let writer = writer_pool(pool).await;
    let mut state = http::AppState::new(writer.clone(), writer, leptos_options, Config::default())
        .await
        .unwrap();
    state.log_key = Some(std::sync::Arc::new(key.verifier().clone()));
    state.signing_key = Some(std::sync::Arc::new(key.clone()));
    http::router(state)
}

/// [`router`] with a key and settings of the test's own.
pub async fn router_with(
    pool: &PgPool,
    key: Option<&trailkeep::domain::integrity::checkpoint::VerifierKey>,
    config: Config,
) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("trailkeep")
        .site_root("target/site")
        .build();
    let writer = writer_pool(pool).await;
    let mut state = http::AppState::new(writer.clone(), writer, leptos_options, config)
        .await
        .unwrap();
    state.log_key = key.map(|k| std::sync::Arc::new(k.clone()));
    http::router(state)
}

/// The router on `writer` itself (a pool from [`writer_pool`]), for a test that closes it.
pub async fn router_on(writer: &PgPool) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("trailkeep")
        .site_root("target/site")
        .build();
    let state = http::AppState::new(
        writer.clone(),
        writer.clone(),
        leptos_options,
        Config::default(),
    )
    .await
    .unwrap();
    http::router(state)
}

/// A pool on the test's database connected as the server's role, as `serve` connects.
pub async fn writer_pool(pool: &PgPool) -> PgPool {
    trailkeep::storage::connect_with((*pool.connect_options()).clone(), 4)
        .await
        .expect("the migrations grant the writer role what the server needs")
}

/// The entries each volume rollup counts (migrations 0017 and 0020), in `Rollup::ALL`'s
/// order, and the entries the log holds. Tables named by schema, so a temporary table of the
/// same name is never what is read.
pub async fn rollup_totals(pool: &PgPool) -> (Vec<i64>, i64) {
    use sqlx::Row;
    use trailkeep::domain::query::volume::Rollup;
    let sums: Vec<String> = Rollup::ALL
        .iter()
        .map(|r| {
            format!(
                "(SELECT coalesce(sum(entries), 0)::bigint FROM public.{})",
                r.table()
            )
        })
        .collect();
    let row = sqlx::query(&format!(
        "SELECT {}, (SELECT count(*) FROM public.audit_entries)",
        sums.join(", ")
    ))
    .fetch_one(pool)
    .await
    .unwrap();
    let rollups = (0..sums.len()).map(|i| row.get::<i64, _>(i)).collect();
    (rollups, row.get(sums.len()))
}

pub async fn key(pool: &PgPool, scopes: &[Scope]) -> String {
    accounts::create_key(pool, "test", scopes, &Acting::cli())
        .await
        .unwrap()
        .1
}

pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
    pub bytes: Vec<u8>,
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
        bytes: bytes.to_vec(),
    }
}

pub fn post_json(key: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post("/api/v1/events").header("content-type", "application/json");
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(body.into()).unwrap()
}

/// Serves the router on a real loopback port (websockets need one); returns its address.
pub async fn serve(pool: &PgPool) -> std::net::SocketAddr {
    serve_router(router(pool).await).await
}

/// Serves `app` on a real loopback port; returns its address.
pub async fn serve_router(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/api/v1/live?<query>` with an API key, as a script would.
pub async fn live(addr: std::net::SocketAddr, key: &str, query: &str) -> Socket {
    tokio_tungstenite::connect_async(live_request(addr, key, query))
        .await
        .unwrap()
        .0
}

/// The upgrade request of a live socket with `key`.
pub fn live_request(
    addr: std::net::SocketAddr,
    key: &str,
    query: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/api/v1/live?{query}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

/// The next protocol message, or `None` after `wait` of silence.
pub async fn next_message(
    socket: &mut Socket,
    wait: std::time::Duration,
) -> Option<app::live::LiveMessage> {
    use futures::StreamExt;
    loop {
        let frame = tokio::time::timeout(wait, socket.next()).await.ok()??;
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame.unwrap() {
            return Some(serde_json::from_str(&text).expect("a protocol message"));
        }
    }
}

/// Entries received until one with `seq >= last` arrives (panics after `wait` of silence).
pub async fn entries_through(
    socket: &mut Socket,
    last: i64,
    wait: std::time::Duration,
) -> Vec<app::model::AuditEntry> {
    let mut got = Vec::new();
    loop {
        match next_message(socket, wait).await {
            Some(app::live::LiveMessage::Entry { entry }) => {
                let seq = entry.seq;
                got.push(*entry);
                if seq >= last {
                    return got;
                }
            }
            Some(_) => {}
            None => panic!(
                "silence before seq {last}; got {:?}",
                got.iter().map(|e| e.seq).collect::<Vec<_>>()
            ),
        }
    }
}

/// `n` valid events with the given action, as the ingest API takes them.
pub fn events(action: &str, n: usize) -> Vec<trailkeep::domain::entry::event::NewEvent> {
    let batch: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"action": action, "actor": {"id": format!("u{i}")}}))
        .collect();
    trailkeep::domain::entry::event::parse_batch(&Value::Array(batch)).expect("valid events")
}

/// Makes the log's monthly partitions from now through the month of `through` (as the owner):
/// for tests that record entries at chosen future instants.
pub async fn partitions_through(owner: &PgPool, through: &str) {
    sqlx::query("SELECT audit_entries_add_partitions(now(), $1::timestamptz)")
        .bind(through)
        .execute(owner)
        .await
        .unwrap();
}

/// The test database's URL (for a process of its own): DATABASE_URL with the database name
/// replaced.
pub async fn url_of(pool: &PgPool) -> String {
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (base, query) = base.split_once('?').unwrap_or((&base, ""));
    let root = base.rsplit_once('/').expect("a URL with a database").0;
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{root}/{db}{query}")
}

/// What someone owning the tables (or a superuser) can do with the guards off: keeps the first
/// `keep` entries, rewinds the chain head to them and empties the tree and the checkpoints, so
/// that the database agrees with itself again. Only what is kept outside it can tell.
pub async fn cut_tail_as_owner(pool: &PgPool, keep: i64) {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    for table in ["audit_entries", "entry_ids"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE seq >= $1"))
            .bind(keep)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query(
        "UPDATE chain_head SET next_seq = $1, \
         head_hash = (SELECT chain_hash FROM audit_entries WHERE seq = $1 - 1)",
    )
    .bind(keep)
    .execute(&mut *conn)
    .await
    .unwrap();
    for sql in [
        "DELETE FROM checkpoints",
        "DELETE FROM tree_hashes",
        "UPDATE tree_state SET size = 0, root = sha256('')",
        "SET session_replication_role = origin",
    ] {
        sqlx::query(sql).execute(&mut *conn).await.unwrap();
    }
}
