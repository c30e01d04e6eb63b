//! The append path the server's role cannot bend (migrations/0007_append_path.sql): each attack
//! of issue 15, run as `trailkeep_writer`, is refused by PostgreSQL, and the log still verifies
//! and still takes appends afterwards.

use app::model::Source;
use serde_json::json;
use sqlx::PgPool;
use trailkeep::{
    domain::entry::event::parse_batch,
    storage::{self, entries},
};

async fn writer_pool(pool: &PgPool) -> PgPool {
    storage::connect_with((*pool.connect_options()).clone(), 2)
        .await
        .expect("the migrations grant the writer role what the server needs")
}

async fn append(pool: &PgPool, n: usize) {
    let batch: Vec<_> = (0..n)
        .map(|i| json!({"action": "doc.viewed", "actor": {"id": format!("u{i}")}}))
        .collect();
    entries::append(pool, Source::Trailkeep, parse_batch(&json!(batch)).unwrap())
        .await
        .unwrap();
}

/// An INSERT of one row at `seq` whose chain hash is `chain` (hex), copying entry 0's fields.
fn forged_insert(seq: i64, chain: &str) -> String {
    format!(
        "INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, action, \
         status, details, form, source, leaf_hash, chain_hash) \
         SELECT {seq}, gen_random_uuid(), occurred_at, recorded_at, actor_type, actor_id, action, \
         status, details, form, source, leaf_hash, '\\x{chain}' FROM audit_entries WHERE seq = 0"
    )
}

/// Runs each statement on `pool` and checks PostgreSQL refuses it; then the log still holds
/// `entries` entries and verifies.
async fn refused_all(pool: &PgPool, owner: &PgPool, statements: &[String], entries: i64) {
    for sql in statements {
        let err = sqlx::query(sql)
            .execute(pool)
            .await
            .expect_err(sql)
            .to_string();
        let refusals = [
            "permission denied",
            "must be owner",
            "append-only",
            "not the next one",
            "does not extend",
            "duplicate key",
        ];
        assert!(refusals.iter().any(|m| err.contains(m)), "{sql}: {err}");
    }
    assert_eq!(
        trailkeep::service::chain::verify(owner).await.unwrap(),
        Ok(entries)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_writer_role_can_only_append_in_order(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    append(&writer, 3).await;
    let zeros = "00".repeat(32);
    let head: Vec<u8> = sqlx::query_scalar("SELECT head_hash FROM chain_head")
        .fetch_one(&pool)
        .await
        .unwrap();
    let next_chain = hex::encode(&head); // any hash but the right one
    let attacks = [
        // Truncating the tail: triggers off, then delete.
        "SET session_replication_role = replica".to_string(),
        "ALTER TABLE audit_entries DISABLE TRIGGER USER".to_string(),
        "DELETE FROM audit_entries WHERE seq = 2".to_string(),
        // Rewriting an entry.
        "UPDATE audit_entries SET actor_id = 'someone else' WHERE seq = 1".to_string(),
        // Breaking the head: a made-up hash, a rewind.
        format!("UPDATE chain_head SET head_hash = '\\x{zeros}'"),
        "UPDATE chain_head SET next_seq = next_seq + 1".to_string(),
        // A row past the head, which would make every later append fail on the key.
        forged_insert(4, &zeros),
        // A row at the head whose chain hash does not extend it.
        forged_insert(3, &next_chain),
        // A row that takes an earlier place.
        forged_insert(1, &zeros),
    ];
    // Each is refused and changes nothing; appending goes on.
    refused_all(&writer, &pool, &attacks, 3).await;
    append(&writer, 2).await;
    assert_eq!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(5)
    );
}

/// The rule is the database's, so it holds for the owner too: only a superuser switching
/// triggers off gets past it (which the signed checkpoints of the Merkle tree then expose).
#[sqlx::test(migrations = "../migrations")]
async fn even_the_owner_appends_only_in_order(pool: PgPool) {
    append(&pool, 2).await;
    let zeros = "00".repeat(32);
    refused_all(
        &pool,
        &pool,
        &[forged_insert(3, &zeros), forged_insert(2, &zeros)],
        2,
    )
    .await;
}
