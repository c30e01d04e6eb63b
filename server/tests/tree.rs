//! The Merkle tree in PostgreSQL (migrations/0008_merkle_tree.sql, service::tree): what the
//! integrator stores is the tree a recomputation from the entries gives, with two integrators
//! at once too; a rewritten entry never enters it; stored hashes and the state only grow.

use app::model::Source;
use serde_json::json;
use sqlx::PgPool;
use trailkeep::{
    domain::{entry::event::parse_batch, integrity::tree},
    service::tree::{health, integrate, verify, IntegrateError, TreeHealth, TreeVerdict},
    storage::{self, entries},
};

async fn writer_pool(pool: &PgPool) -> PgPool {
    storage::connect_with((*pool.connect_options()).clone(), 4)
        .await
        .unwrap()
}

async fn append(pool: &PgPool, n: usize) {
    let batch: Vec<_> = (0..n)
        .map(|i| json!({"action": "doc.viewed", "actor": {"id": format!("u{i}")}, "details": {"i": i}}))
        .collect();
    entries::append(pool, Source::Trailkeep, parse_batch(&json!(batch)).unwrap())
        .await
        .unwrap();
}

/// The tree recomputed from scratch from every entry's stored leaf hash: its stored hashes
/// and root.
async fn recomputed(pool: &PgPool) -> (Vec<tree::Hash>, tree::Hash) {
    let rows = entries::rows_by_seq(pool, 0, i64::MAX).await.unwrap();
    let leaves: Vec<tree::Hash> = rows
        .iter()
        .map(|r| r.leaf_hash.clone().try_into().unwrap())
        .collect();
    tree::extend(0, &leaves, &tree::Hashes::default()).unwrap()
}

async fn assert_stored_tree_is_recomputed(pool: &PgPool, size: u64) {
    let (made, root) = recomputed(pool).await;
    assert_eq!(storage::tree::state(pool).await.unwrap(), (size, root));
    assert_eq!(storage::tree::all_hashes(pool).await.unwrap(), made);
    assert_eq!(made.len() as u64, tree::stored_count(size));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_stored_tree_is_the_one_the_entries_give(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    assert_eq!(integrate(&writer).await.unwrap(), 0);
    for n in [1, 2, 300, 7] {
        append(&writer, n).await;
    }
    assert_eq!(integrate(&writer).await.unwrap(), 310);
    assert_eq!(health(&pool).await.unwrap(), TreeHealth::Ok { size: 310 });
    assert_stored_tree_is_recomputed(&pool, 310).await;
    // Later appends extend it (the first row of stored hashes grows in place).
    append(&writer, 500).await;
    assert_eq!(integrate(&writer).await.unwrap(), 500);
    assert_stored_tree_is_recomputed(&pool, 810).await;
    // More than one batch in one go.
    for _ in 0..5 {
        append(&writer, 1000).await;
    }
    assert_eq!(integrate(&writer).await.unwrap(), 5000);
    assert_stored_tree_is_recomputed(&pool, 5810).await;
    // verify recomputes it in batches (5810 entries: two) and agrees.
    let (_, root) = recomputed(&pool).await;
    assert_eq!(
        verify(&pool).await.unwrap(),
        TreeVerdict::Ok { size: 5810, root }
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn two_integrators_while_appending_make_one_tree(pool: PgPool) {
    let (a, b) = (writer_pool(&pool).await, writer_pool(&pool).await);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let integrator = |p: PgPool| {
        let done = done.clone();
        tokio::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                integrate(&p).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let (ia, ib) = (integrator(a.clone()), integrator(b.clone()));
    for i in 0..40 {
        append(if i % 2 == 0 { &a } else { &b }, 25).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    ia.await.unwrap();
    ib.await.unwrap();
    integrate(&a).await.unwrap();
    assert_stored_tree_is_recomputed(&pool, 1000).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rewritten_entry_never_enters_the_tree(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    append(&writer, 10).await;
    assert_eq!(integrate(&writer).await.unwrap(), 10);
    append(&writer, 5).await;
    // The owner switches the guard off and rewrites entry 12 (leaf_hash left as it was).
    for sql in [
        "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update",
        "UPDATE audit_entries SET actor_id = 'someone else' WHERE seq = 12",
        "ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_no_update",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    // What precedes it goes in; then the integrator stops at it and says which.
    assert_eq!(integrate(&writer).await.unwrap(), 2);
    let err = integrate(&writer).await.unwrap_err();
    assert!(matches!(err, IntegrateError::Tampered { seq: 12 }), "{err}");
    assert_eq!(storage::tree::state(&pool).await.unwrap().0, 12);
    // Every process's /readyz says so (from the database, not from who integrated).
    assert_eq!(
        health(&pool).await.unwrap(),
        TreeHealth::Stopped { seq: 12 }
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn stored_hashes_and_the_state_only_grow(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    append(&writer, 20).await;
    integrate(&writer).await.unwrap();
    for db in [&pool, &writer] {
        for sql in [
            "UPDATE tree_hashes SET hashes = overlay(hashes PLACING '\\x00'::bytea FROM 1)",
            "UPDATE tree_hashes SET hashes = substring(hashes FROM 1 FOR 32)",
            "DELETE FROM tree_hashes",
            "TRUNCATE tree_hashes",
            "UPDATE tree_state SET size = 3",
            "UPDATE tree_state SET root = sha256('x')",
            "DELETE FROM tree_state",
        ] {
            let err = sqlx::query(sql)
                .execute(db)
                .await
                .expect_err(sql)
                .to_string();
            assert!(
                ["only grow", "append-only", "permission denied"]
                    .iter()
                    .any(|m| err.contains(m)),
                "{sql}: {err}"
            );
        }
    }
    assert_stored_tree_is_recomputed(&pool, 20).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn verify_recomputes_the_tree_and_names_a_changed_hash(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    append(&writer, 600).await;
    integrate(&writer).await.unwrap();
    let (_, root) = recomputed(&pool).await;
    assert_eq!(
        verify(&pool).await.unwrap(),
        TreeVerdict::Ok { size: 600, root }
    );
    // The owner switches the guard off and changes one stored hash.
    for sql in [
        "ALTER TABLE tree_hashes DISABLE TRIGGER tree_hashes_only_grow",
        "UPDATE tree_hashes SET hashes = overlay(hashes PLACING '\\xff'::bytea FROM 32 * 7 + 1) WHERE chunk = 1",
        "ALTER TABLE tree_hashes ENABLE TRIGGER tree_hashes_only_grow",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let TreeVerdict::Bad(why) = verify(&pool).await.unwrap() else {
        panic!("a changed stored hash went unnoticed")
    };
    assert_eq!(why.check, app::integrity::Check::Tree);
    assert!(why.detail.contains("stored hash 263 "), "{why}");
}
