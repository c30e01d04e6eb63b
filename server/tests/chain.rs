//! The append-only, hash-chained store against real PostgreSQL.

use serde_json::json;
use sqlx::PgPool;
use trailkeep::{
    domain::{entry::event::parse_batch, entry::event::NewEvent, entry::record::EntryRecord},
    storage::{self, entries},
};

fn events(body: serde_json::Value) -> Vec<NewEvent> {
    parse_batch(&body).expect("valid events")
}

async fn writer_pool(pool: &PgPool) -> PgPool {
    storage::connect_with((*pool.connect_options()).clone(), 4)
        .await
        .expect("the migrations grant the writer role what the server needs")
}

#[sqlx::test(migrations = "../migrations")]
async fn tricky_content_hashes_recompute_from_what_is_stored(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    let tricky = json!([
        {"action": "config.updated", "actor": {"id": "ü-ñ-😀", "name": "Zoë \"Z\" O'Brien, <script>alert(1)</script>", "email": ""},
         "details": {"z": 1, "a": {"y": [3, 2, 1], "b": {"é": "ünïcödé", "\u{1}": "control", "": ""}}, "m": null}},
        {"action": "kb.uploaded", "actor": {"id": "k", "type": "api_key"},
         "details": {"big": 9007199254740991i64, "neg": -9007199254740991i64, "dec": 0.1, "exp": 1.5e-300,
                     "tiny": 5e-324, "third": 333333333.3333333, "zero": -0.0, "one": 1.0, "text": "line1\nline2\ttab"}},
        {"action": "user.login", "actor": {"id": "u"}, "ip": "::ffff:192.0.2.1", "user_agent": "",
         "occurred_at": "2026-03-31T23:59:59.123456789+02:00", "resource": {"type": "t", "id": "=cmd|' /C calc'!A0"}},
        {"action": "user.login", "actor": {"id": "u"}, "ip": "2001:DB8:0:0:0:0:0:1", "details": {"emoji": "👩‍💻", "rtl": "עברית", "nested": {"deep": {"deeper": {"deepest": [{}, [], ""]}}}}},
    ]);
    let acks = entries::append(&writer, app::model::Source::Trailkeep, events(tricky))
        .await
        .unwrap();
    let rows = entries::rows_by_seq(&pool, 0, 100).await.unwrap();
    assert_eq!(rows.len(), acks.len());
    assert!(
        !rows.is_empty(),
        "a check of every row proves nothing on none"
    );
    for (row, ack) in rows.iter().zip(&acks) {
        let record: &EntryRecord = &row.record;
        assert_eq!(
            record.leaf_hash().to_vec(),
            row.leaf_hash,
            "seq {}",
            row.record.seq
        );
        assert_eq!(ack.leaf_hash, row.leaf_hash);
    }
    // What was stored is what was sent.
    assert_eq!(rows[0].record.details["a"]["b"][""], "");
    assert_eq!(rows[0].record.actor_email.as_deref(), Some(""));
    assert_eq!(rows[1].record.details["big"], 9007199254740991i64);
    assert_eq!(rows[1].record.details["dec"], 0.1);
    assert_eq!(rows[2].record.ip, Some("::ffff:192.0.2.1".parse().unwrap()));
    assert_eq!(
        rows[2].record.occurred_at.to_rfc3339(),
        "2026-03-31T21:59:59.123456+00:00"
    );
    assert_eq!(rows[3].record.ip, Some("2001:db8::1".parse().unwrap()));
    assert_eq!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(4)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn update_delete_truncate_are_refused_by_the_database(pool: PgPool) {
    entries::append(&pool, app::model::Source::Trailkeep, events(json!([{"action": "a.b", "actor": {"id": "x"}}, {"action": "a.c", "actor": {"id": "y"}}])))
        .await
        .unwrap();
    // Even the owner (a superuser here) is stopped by the triggers.
    for sql in [
        "UPDATE audit_entries SET status = 'failure'",
        "DELETE FROM audit_entries WHERE seq = 0",
        "TRUNCATE audit_entries",
        "UPDATE chain_head SET next_seq = 0",
        "DELETE FROM chain_head",
    ] {
        let err = sqlx::query(sql)
            .execute(&pool)
            .await
            .expect_err(sql)
            .to_string();
        assert!(
            err.contains("append-only") || err.contains("only moves forward"),
            "{sql}: {err}"
        );
    }
    // The server's role has no such privilege in the first place.
    let writer = writer_pool(&pool).await;
    for sql in [
        "UPDATE audit_entries SET status = 'failure'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "DELETE FROM chain_head",
        "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update",
    ] {
        let err = sqlx::query(sql)
            .execute(&writer)
            .await
            .expect_err(sql)
            .to_string();
        assert!(
            err.contains("permission denied")
                || err.contains("must be owner")
                || err.contains("append-only"),
            "{sql}: {err}"
        );
    }
    assert_eq!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(2)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_writers_from_separate_pools_build_one_chain(pool: PgPool) {
    // Two pools behave like two server processes: separate connections, one database.
    let a = writer_pool(&pool).await;
    let b = writer_pool(&pool).await;
    let mut tasks = Vec::new();
    for w in 0..8u32 {
        let p = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for round in 0..25u32 {
                let size = 1 + (w + round) % 7;
                let batch: Vec<_> = (0..size)
                    .map(|i| json!({"action": "load.test", "actor": {"id": format!("w{w}")}, "details": {"round": round, "i": i}}))
                    .collect();
                let acks = entries::append(&p, app::model::Source::Trailkeep, events(serde_json::Value::Array(batch))).await.unwrap();
                seqs.extend(acks.into_iter().map(|a| a.seq));
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let n = all.len() as i64;
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "gapless, no duplicates");
    assert_eq!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(n)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn verify_finds_the_first_tampered_entry(pool: PgPool) {
    let batch: Vec<_> = (0..10)
        .map(|i| json!({"action": "a.b", "actor": {"id": format!("u{i}")}}))
        .collect();
    entries::append(
        &pool,
        app::model::Source::Trailkeep,
        events(serde_json::Value::Array(batch)),
    )
    .await
    .unwrap();
    assert_eq!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(10)
    );

    // Someone with the table owner's rights switches the guard off and edits an entry.
    sqlx::query("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_entries SET actor_id = 'someone-else' WHERE seq = 6")
        .execute(&pool)
        .await
        .unwrap();
    match trailkeep::service::chain::verify(&pool).await.unwrap() {
        Err(f) => assert_eq!(f.at, Some(app::integrity::Place::Seq(6))),
        ok => panic!("tampering not detected: {ok:?}"),
    }
    // Recomputing the leaf hash too is caught by the chain.
    let row = entries::rows_by_seq(&pool, 6, 7).await.unwrap().remove(0);
    let forged = row.record.leaf_hash();
    sqlx::query("UPDATE audit_entries SET leaf_hash = $1 WHERE seq = 6")
        .bind(&forged[..])
        .execute(&pool)
        .await
        .unwrap();
    match trailkeep::service::chain::verify(&pool).await.unwrap() {
        Err(f) => assert_eq!(
            (f.at, f.detail.contains("chain")),
            (Some(app::integrity::Place::Seq(6)), true)
        ),
        ok => panic!("tampering not detected: {ok:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn verify_notices_removed_entries(pool: PgPool) {
    let batch: Vec<_> = (0..5)
        .map(|i| json!({"action": "a.b", "actor": {"id": format!("u{i}")}}))
        .collect();
    entries::append(
        &pool,
        app::model::Source::Trailkeep,
        events(serde_json::Value::Array(batch)),
    )
    .await
    .unwrap();
    sqlx::query("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_delete")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_entries WHERE seq = 4")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Err(app::integrity::Finding {
            at: Some(app::integrity::Place::Seq(4)),
            ..
        })
    ));
    sqlx::query("DELETE FROM audit_entries WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Err(app::integrity::Finding {
            at: Some(app::integrity::Place::Seq(2)),
            ..
        })
    ));
}

/// A stored value Trailkeep never writes is corruption, whoever reads it: `verify` names the
/// column, and reading the entry fails instead of relabelling it.
#[sqlx::test(migrations = "../migrations")]
async fn unknown_stored_values_are_corruption_not_relabelled(pool: PgPool) {
    entries::append(
        &pool, app::model::Source::Trailkeep,
        events(json!([{"action": "a.b", "actor": {"id": "u"}}, {"action": "a.c", "actor": {"id": "v"}}])),
    )
    .await
    .unwrap();
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM audit_entries WHERE seq = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    // Someone with the owner's rights lifts every guard and writes a status Trailkeep has not.
    for sql in [
        "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update",
        "ALTER TABLE audit_entries DROP CONSTRAINT IF EXISTS audit_entries_status_check",
        "UPDATE audit_entries SET status = 'fine' WHERE seq = 1",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    match trailkeep::service::chain::verify(&pool).await.unwrap() {
        Err(f) => {
            assert_eq!(f.at, Some(app::integrity::Place::Seq(1)));
            assert!(f.detail.contains("status"), "{f}");
        }
        ok => panic!("corruption not detected: {ok:?}"),
    }
    let read = trailkeep::storage::query::by_id(&pool, id).await;
    assert!(
        matches!(read, Err(sqlx::Error::ColumnDecode { ref index, .. }) if index.contains("status")),
        "{read:?}"
    );
}
