//! The live channel against real PostgreSQL: each committed append announces its highest seq,
//! to listeners on other connections; nothing rolled back is announced.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use trailkeep::{
    domain::entry::event::{parse_batch, NewEvent},
    storage::{self, entries, live},
};

fn events(n: usize) -> Vec<NewEvent> {
    let batch: Vec<_> = (0..n)
        .map(|i| json!({"action": "config.updated", "actor": {"id": format!("u{i}")}}))
        .collect();
    parse_batch(&json!(batch)).expect("valid events")
}

async fn next_seq(listener: &mut sqlx::postgres::PgListener) -> Option<i64> {
    let n = tokio::time::timeout(Duration::from_secs(2), listener.recv())
        .await
        .ok()?
        .expect("the listener connection stays up");
    live::announced_seq(n.payload())
}

#[sqlx::test(migrations = "../migrations")]
async fn every_committed_append_announces_its_highest_seq(pool: PgPool) {
    let mut listener = live::listen(&pool).await.unwrap();
    // The server writes as the restricted role: the trigger must work for it too.
    let writer = storage::connect_with((*pool.connect_options()).clone(), 2)
        .await
        .unwrap();
    entries::append(&writer, app::model::Source::Trailkeep, events(3))
        .await
        .unwrap();
    assert_eq!(next_seq(&mut listener).await, Some(2));
    entries::append(&writer, app::model::Source::Trailkeep, events(1))
        .await
        .unwrap();
    assert_eq!(next_seq(&mut listener).await, Some(3));

    // Rolled back: no announcement, and the next commit announces its own seq.
    let mut tx = writer.begin().await.unwrap();
    entries::append_in(&mut tx, app::model::Source::Trailkeep, events(2))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(next_seq(&mut listener).await, None);
    entries::append(&writer, app::model::Source::Trailkeep, events(2))
        .await
        .unwrap();
    assert_eq!(next_seq(&mut listener).await, Some(5));
}
