//! Signed checkpoints against a real PostgreSQL (migrations/0009_checkpoints.sql,
//! service::checkpoints, the integrity API): the signer signs what the tree grew by and
//! refuses a smaller or different tree; a checkpoint saved outside detects a truncated or
//! rewritten tail that leaves the database self-consistent; an altered stored checkpoint is
//! named; the proofs the API serves verify against the signed root; the key file is 0600.

mod common;

use std::time::Duration;

use app::model::Source;
use axum::{body::Body, http::Request};
use serde_json::json;
use sqlx::PgPool;
use trailkeep::{
    domain::{
        auth::Scope,
        entry::event::parse_batch,
        integrity::checkpoint::SigningKey,
        integrity::tree::{self, Hash},
    },
    service::{
        checkpoints::{health, sign_once, verify_all, verify_saved, CheckpointHealth, Refusal},
        checkpoints::{SignError, Signed},
        tree::{integrate, verify, TreeVerdict},
    },
    storage::{self, entries},
};

const ORIGIN: &str = "trailkeep.test/log";

async fn writer_pool(pool: &PgPool) -> PgPool {
    storage::connect_with((*pool.connect_options()).clone(), 4)
        .await
        .unwrap()
}

fn key() -> SigningKey {
    SigningKey::generate(ORIGIN, &mut rand_core::OsRng).unwrap()
}

async fn append(pool: &PgPool, n: usize) {
    let batch: Vec<_> = (0..n)
        .map(|i| json!({"action": "doc.viewed", "actor": {"id": format!("u{i}")}, "details": {"i": i}}))
        .collect();
    entries::append(pool, Source::Trailkeep, parse_batch(&json!(batch)).unwrap())
        .await
        .unwrap();
}

/// Appends `n` entries, integrates them, signs: the new checkpoint's note.
async fn grow_and_sign(pool: &PgPool, key: &SigningKey, n: usize) -> String {
    append(pool, n).await;
    integrate(pool).await.unwrap();
    let signed = sign_once(pool, key, Duration::ZERO, None).await.unwrap();
    let latest = storage::checkpoints::latest(pool).await.unwrap().unwrap();
    assert_eq!(signed, Signed::New(latest.size as u64));
    latest.note
}

/// Runs `statements` as the table owner with user triggers off: what someone with the database
/// (not the key) can do.
async fn as_owner_unguarded(pool: &PgPool, statements: &[&str]) {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    for s in statements {
        sqlx::query(s).execute(&mut *conn).await.unwrap();
    }
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// The root of the tree of every entry's stored leaf hash, recomputed in memory.
async fn recomputed_root(pool: &PgPool, size: i64) -> Hash {
    let rows = entries::rows_by_seq(pool, 0, size).await.unwrap();
    let leaves: Vec<Hash> = rows
        .iter()
        .map(|r| r.leaf_hash.clone().try_into().unwrap())
        .collect();
    tree::extend(0, &leaves, &tree::Hashes::default())
        .unwrap()
        .1
}

#[sqlx::test(migrations = "../migrations")]
async fn the_signer_signs_what_the_tree_grew_by_and_every_checkpoint_is_kept(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    let key = key();
    // An empty log: nothing to sign.
    assert_eq!(
        sign_once(&writer, &key, Duration::ZERO, None)
            .await
            .unwrap(),
        Signed::NothingNew
    );
    assert_eq!(
        health(&pool, key.verifier(), None, None).await.unwrap(),
        CheckpointHealth::NoneYet
    );
    let first = grow_and_sign(&writer, &key, 300).await;
    let cp = key.verifier().open(first.as_bytes()).unwrap();
    assert_eq!(cp.size, 300);
    assert_eq!(cp.root, recomputed_root(&pool, 300).await);
    // Not again until the tree grows, and not sooner than the interval.
    assert_eq!(
        sign_once(&writer, &key, Duration::ZERO, None)
            .await
            .unwrap(),
        Signed::NothingNew
    );
    append(&writer, 5).await;
    integrate(&writer).await.unwrap();
    assert_eq!(
        sign_once(&writer, &key, Duration::from_secs(3600), None)
            .await
            .unwrap(),
        Signed::NotYet
    );
    assert_eq!(
        sign_once(&writer, &key, Duration::ZERO, None)
            .await
            .unwrap(),
        Signed::New(305)
    );
    grow_and_sign(&writer, &key, 700).await;
    assert!(matches!(
        health(&pool, key.verifier(), None, None).await.unwrap(),
        CheckpointHealth::Current { size: 1005, .. }
    ));
    assert_eq!(verify_all(&pool, key.verifier()).await.unwrap(), Ok(3));
    // Stored checkpoints never change or go, and only newer ones are added (the owner too).
    for statement in [
        "UPDATE checkpoints SET note = 'x' WHERE size = 300",
        "DELETE FROM checkpoints WHERE size = 1005",
        "TRUNCATE checkpoints",
        "INSERT INTO checkpoints (size, root, key_id, note) VALUES (500, sha256(''), 1, 'x')",
    ] {
        assert!(
            sqlx::query(statement).execute(&pool).await.is_err(),
            "{statement}"
        );
    }
    // With another key, the stored checkpoints do not verify: named by verify, and an alarm
    // in health (the server's role can store rows no key signed: they never stop signing).
    let other = SigningKey::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
    assert!(verify_all(&pool, other.verifier()).await.unwrap().is_err());
    assert!(matches!(
        health(&pool, other.verifier(), None, None).await.unwrap(),
        CheckpointHealth::Refused(Refusal::Unverified { size: 1005, .. })
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn two_signers_sign_as_one(pool: PgPool) {
    let (a, b) = (writer_pool(&pool).await, writer_pool(&pool).await);
    let key = key();
    append(&a, 50).await;
    integrate(&a).await.unwrap();
    let (x, y) = tokio::join!(
        sign_once(&a, &key, Duration::from_secs(60), None),
        sign_once(&b, &key, Duration::from_secs(60), None)
    );
    let mut outcomes = [x.unwrap(), y.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    // One signs; the other finds it busy or the checkpoint too young.
    assert!(outcomes.contains(&Signed::New(50)), "{outcomes:?}");
    assert_eq!(
        storage::checkpoints::page(&pool, (0, 0), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_checkpoint_saved_outside_detects_a_truncated_tail(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    let key = key();
    grow_and_sign(&writer, &key, 40).await;
    let saved = grow_and_sign(&writer, &key, 10).await; // 50 entries, kept by an auditor
    assert!(verify_saved(&pool, key.verifier(), saved.as_bytes())
        .await
        .unwrap()
        .is_ok());
    // Someone with the database removes the last 5 entries and rebuilds everything derived
    // from them, so that the database agrees with itself again.
    as_owner_unguarded(
        &pool,
        &[
            "DELETE FROM audit_entries WHERE seq >= 45",
            "DELETE FROM entry_ids WHERE seq >= 45",
            "UPDATE chain_head SET next_seq = 45, \
             head_hash = (SELECT chain_hash FROM audit_entries WHERE seq = 44)",
            "DELETE FROM checkpoints",
            "DELETE FROM tree_hashes",
            "UPDATE tree_state SET size = 0, root = sha256('')",
        ],
    )
    .await;
    integrate(&writer).await.unwrap();
    assert!(matches!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(45)
    ));
    assert!(matches!(
        verify(&pool).await.unwrap(),
        TreeVerdict::Ok { size: 45, .. }
    ));
    // Inside the database, all is consistent; the saved checkpoint is not fooled.
    let verdict = verify_saved(&pool, key.verifier(), saved.as_bytes())
        .await
        .unwrap();
    assert!(
        verdict
            .as_ref()
            .is_err_and(|why| why.detail.contains("50 entries")),
        "{verdict:?}"
    );
    // Appending 5 new entries in their place does not fool it either.
    append(&writer, 5).await;
    integrate(&writer).await.unwrap();
    let verdict = verify_saved(&pool, key.verifier(), saved.as_bytes())
        .await
        .unwrap();
    assert!(
        verdict.as_ref().is_err_and(|why| why
            .detail
            .contains("not the ones the saved checkpoint signed")),
        "{verdict:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_checkpoint_saved_outside_detects_a_rewrite_and_the_signer_refuses_it(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    let key = key();
    let saved = grow_and_sign(&writer, &key, 30).await;
    // Entry 12 rewritten, every later hash recomputed, the tree rebuilt: a self-consistent
    // database, as the owner (or a restored, edited backup) could make it.
    let rows = entries::rows_by_seq(&pool, 0, 30).await.unwrap();
    let mut record = rows[12].record.clone();
    record.actor_id = "someone else".into();
    let leaf = record.leaf_hash();
    let mut statements = vec![
        "DELETE FROM tree_hashes".to_string(),
        "UPDATE tree_state SET size = 0, root = sha256('')".to_string(),
        format!(
            "UPDATE audit_entries SET actor_id = 'someone else', leaf_hash = '\\x{}' WHERE seq = 12",
            hex::encode(leaf)
        ),
    ];
    let mut chain: Vec<u8> = rows[11].chain_hash.clone();
    for (seq, row) in rows.iter().enumerate().skip(12) {
        use sha2::Digest;
        let leaf = if seq == 12 {
            leaf.to_vec()
        } else {
            row.leaf_hash.clone()
        };
        chain = sha2::Sha256::new()
            .chain_update(&chain)
            .chain_update(&leaf)
            .finalize()
            .to_vec();
        statements.push(format!(
            "UPDATE audit_entries SET chain_hash = '\\x{}' WHERE seq = {seq}",
            hex::encode(&chain)
        ));
    }
    statements.push(format!(
        "UPDATE chain_head SET head_hash = '\\x{}'",
        hex::encode(&chain)
    ));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    as_owner_unguarded(&pool, &statements).await;
    integrate(&writer).await.unwrap();
    assert!(matches!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(30)
    ));
    assert!(matches!(
        verify(&pool).await.unwrap(),
        TreeVerdict::Ok { size: 30, .. }
    ));
    // The saved checkpoint, the stored one and the signer all see it.
    assert!(verify_saved(&pool, key.verifier(), saved.as_bytes())
        .await
        .unwrap()
        .is_err());
    assert!(verify_all(&pool, key.verifier())
        .await
        .unwrap()
        .is_err_and(|why| why.detail.contains("30 entries")));
    append(&writer, 3).await;
    integrate(&writer).await.unwrap();
    assert!(matches!(
        sign_once(&writer, &key, Duration::ZERO, None).await,
        Err(SignError::Refused(Refusal::Inconsistent {
            tree: 33,
            checkpoint: 30
        }))
    ));
    assert!(matches!(
        health(&pool, key.verifier(), None, None).await.unwrap(),
        CheckpointHealth::Refused(Refusal::Inconsistent { .. })
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_signer_refuses_a_smaller_tree_and_names_an_altered_checkpoint(pool: PgPool) {
    let writer = writer_pool(&pool).await;
    let key = key();
    grow_and_sign(&writer, &key, 20).await;
    grow_and_sign(&writer, &key, 20).await;
    // A stored checkpoint's note altered (its root column left): named by verify.
    as_owner_unguarded(
        &pool,
        &["UPDATE checkpoints SET note = replace(note, E'\\n20\\n', E'\\n21\\n') WHERE size = 20"],
    )
    .await;
    let verdict = verify_all(&pool, key.verifier()).await.unwrap();
    assert!(
        verdict
            .as_ref()
            .is_err_and(|why| why.detail.contains("of 20 entries")),
        "{verdict:?}"
    );
    // A restored backup: the tree is back at an earlier size.
    as_owner_unguarded(
        &pool,
        &["UPDATE tree_state SET size = 20, root = (SELECT root FROM checkpoints WHERE size = 20)"],
    )
    .await;
    assert!(matches!(
        sign_once(&writer, &key, Duration::ZERO, None).await,
        Err(SignError::Refused(Refusal::Smaller {
            tree: 20,
            checkpoint: 40
        }))
    ));
    assert_eq!(
        storage::checkpoints::latest(&pool)
            .await
            .unwrap()
            .unwrap()
            .size,
        40
    );
}

/// A proof as the API writes it: hex hashes.
fn hashes(proof: &serde_json::Value) -> Vec<Hash> {
    proof
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_api_serves_checkpoints_and_proofs_that_verify(pool: PgPool) {
    let key = key();
    for n in [7, 1, 300] {
        grow_and_sign(&pool, &key, n).await;
    }
    let reader = common::key(&pool, &[Scope::Read]).await;
    let ingest_only = common::key(&pool, &[Scope::Ingest]).await;
    let app = common::router_with_key(&pool, Some(key.verifier())).await;
    let get = |path: &str, k: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {k}"))
            .body(Body::empty())
            .unwrap()
    };
    // The latest checkpoint, as a signed note, and an earlier one by size.
    let latest = common::send(&app, get("/api/v1/integrity/checkpoint", &reader)).await;
    assert_eq!(latest.status, 200);
    assert!(latest.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(latest.headers.contains_key("x-trailkeep-signed-at"));
    let cp = key.verifier().open(latest.text.as_bytes()).unwrap();
    assert_eq!(cp.size, 308);
    let early = common::send(&app, get("/api/v1/integrity/checkpoint?size=7", &reader)).await;
    let early = key.verifier().open(early.text.as_bytes()).unwrap();
    assert_eq!(early.size, 7);
    assert_eq!(
        common::send(&app, get("/api/v1/integrity/checkpoint?size=9", &reader))
            .await
            .status,
        404
    );
    // Every entry's inclusion proof verifies against the signed root, with the entry's own
    // leaf hash (as the events API gives it).
    let rows = entries::rows_by_seq(&pool, 0, 308).await.unwrap();
    for seq in [0u64, 1, 6, 7, 100, 255, 256, 307] {
        let r = common::send(
            &app,
            get(
                &format!("/api/v1/integrity/proof/inclusion?seq={seq}&size=308"),
                &reader,
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let leaf: Hash = rows[seq as usize].leaf_hash.clone().try_into().unwrap();
        assert_eq!(r.body["leaf_hash"], hex::encode(leaf));
        let proof: Vec<Hash> = hashes(&r.body["proof"]);
        tree::check_inclusion(&proof, 308, cp.root, seq, leaf).unwrap();
        assert!(tree::check_inclusion(&proof, 308, cp.root, seq, [0; 32]).is_err());
    }
    // The consistency proof links the two signed checkpoints.
    let r = common::send(
        &app,
        get("/api/v1/integrity/proof/consistency?from=7&to=308", &reader),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let proof: Vec<Hash> = hashes(&r.body["proof"]);
    tree::check_consistency(&proof, 308, cp.root, 7, early.root).unwrap();
    // Bad input: a clear 400 naming the parameter.
    for (path, param) in [
        ("/api/v1/integrity/proof/inclusion?size=3", "seq"),
        ("/api/v1/integrity/proof/inclusion?seq=-1&size=3", "seq"),
        ("/api/v1/integrity/proof/inclusion?seq=1&size=3&x=1", "x"),
        ("/api/v1/integrity/proof/consistency?from=0&to=8", "from"),
        ("/api/v1/integrity/checkpoint?size=abc", "size"),
    ] {
        let r = common::send(&app, get(path, &reader)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert_eq!(r.body["param"], param, "{path}");
    }
    // No such proof: beyond the tree (no such tree yet), or the sizes the wrong way round.
    for path in [
        "/api/v1/integrity/proof/inclusion?seq=308&size=308",
        "/api/v1/integrity/proof/consistency?from=9&to=8",
        "/api/v1/integrity/proof/inclusion?seq=0&size=309",
        "/api/v1/integrity/proof/consistency?from=1&to=400",
    ] {
        let r = common::send(&app, get(path, &reader)).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    // Readers only.
    let r = common::send(&app, get("/api/v1/integrity/checkpoint", &ingest_only)).await;
    assert_eq!(r.status, 403);
    let r = common::send(
        &app,
        Request::get("/api/v1/integrity/key")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
}

#[test]
fn the_key_file_is_private_and_names_its_log() {
    use std::os::unix::fs::PermissionsExt;
    use trailkeep::infra::keyfile::load_or_create;
    let dir = std::env::temp_dir().join(format!("trailkeep-keyfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.key");
    let _ = std::fs::remove_file(&path);
    let created = load_or_create(&path, Some(ORIGIN)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Loaded again, the same key; with no origin configured, the key's own.
    assert_eq!(
        load_or_create(&path, None).unwrap().verifier(),
        created.verifier()
    );
    assert!(load_or_create(&path, Some("other.example/log"))
        .unwrap_err()
        .to_string()
        .contains("TRAILKEEP_LOG_ORIGIN"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(load_or_create(&path, None)
        .unwrap_err()
        .to_string()
        .contains("chmod 600"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The console's server function behind the integrity badge, as a signed-in admin's browser
/// calls it: the checkpoint and the proofs; and, once the signer refuses, why.
#[sqlx::test(migrations = "../migrations")]
async fn the_badge_hears_the_checkpoint_the_proofs_and_a_refusal(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    let key = key();
    grow_and_sign(&pool, &key, 20).await;
    trailkeep::service::accounts::create_user(
        &pool,
        "ada@example.com",
        "Ada",
        app::model::Role::Admin,
        "correct horse battery",
        &trailkeep::service::accounts::Acting::cli(),
    )
    .await
    .unwrap();
    let mut state = trailkeep::infra::http::AppState::new(
        pool.clone(),
        pool.clone(),
        leptos::prelude::LeptosOptions::builder()
            .output_name("trailkeep")
            .site_root("target/site")
            .build(),
        trailkeep::infra::config::Config::default(),
    )
    .await
    .unwrap();
    state.log_key = Some(std::sync::Arc::new(key.verifier().clone()));
    let app = trailkeep::infra::http::router(state);
    let login = common::send(
        &app,
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "trailkeep.test")
            .header("origin", "http://trailkeep.test")
            .body(Body::from(
                "email=ada%40example.com&password=correct+horse+battery&next=%2Faudit",
            ))
            .unwrap(),
    )
    .await;
    let cookie = login.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let ask = |seqs: &str| {
        Request::post(app::api::IntegrityCheck::PATH)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("host", "trailkeep.test")
            .header("origin", "http://trailkeep.test")
            .header("cookie", &cookie)
            .body(Body::from(format!(r#"{{"seqs":{seqs}}}"#)))
            .unwrap()
    };
    let r = common::send(&app, ask("[0, 19, 20]")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let evidence: app::model::IntegrityEvidence = serde_json::from_str(&r.text).unwrap();
    assert_eq!(evidence.size, 20);
    assert_eq!(
        evidence.server_key.as_deref(),
        Some(key.verifier().as_str())
    );
    assert_eq!(evidence.refused, None);
    // Proofs for what the checkpoint covers (not seq 20), which verify in the browser's code.
    let seqs: Vec<i64> = evidence.proofs.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [0, 19]);
    let rows = entries::rows_by_seq(&pool, 0, 20).await.unwrap();
    let leaves: Vec<app::integrity::ProvenLeaf> = evidence
        .proofs
        .iter()
        .map(|(seq, proof)| app::integrity::ProvenLeaf {
            seq: *seq,
            leaf_hash: rows[*seq as usize].leaf_hash.clone().try_into().unwrap(),
            proof: proof.clone(),
        })
        .collect();
    let cp = app::integrity::check_view(key.verifier().as_str(), &evidence.note, &leaves).unwrap();
    assert_eq!(cp.size, 20);
    // The tree's state rewound (as after restoring an older backup): the signer refuses, and
    // the badge is told why.
    as_owner_unguarded(&pool, &["UPDATE tree_state SET size = 10"]).await;
    let r = common::send(&app, ask("[]")).await;
    let evidence: app::model::IntegrityEvidence = serde_json::from_str(&r.text).unwrap();
    assert!(evidence.refused.is_some(), "{evidence:?}");
}
