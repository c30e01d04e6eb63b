//! Two real `trailkeep serve` processes on one database: an entry ingested through one
//! reaches live clients of the other (each process runs its own bridge).

mod common;

use std::time::Duration;

use app::live::LiveMessage;
use common::processes::{http, start, Server};
use common::{entries_through, key, live, next_message};
use serde_json::Value;
use sqlx::PgPool;
use trailkeep::domain::auth::Scope;

async fn ingest(server: &Server, key: &str, action: &str) -> i64 {
    let body = serde_json::json!([{"action": action, "actor": {"id": "u1"}}]).to_string();
    let (status, reply) = http(server.addr, "/api/v1/events", Some(key), Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 201, "{reply}");
    let reply: Value = serde_json::from_str(&reply).unwrap();
    reply["entries"][0]["seq"].as_i64().unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_entry_ingested_on_one_process_reaches_clients_of_the_other(pool: PgPool) {
    let url = common::url_of(&pool).await;
    let (a, b) = (start(&url, &[]).await, start(&url, &[]).await);
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
