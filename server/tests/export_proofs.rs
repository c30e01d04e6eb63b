//! Exports carry proofs, and `verify-export` checks them without the database: an untouched
//! JSON, NDJSON or CSV export verifies against the pinned key (CSV and NDJSON with the
//! checkpoint that travels beside them); a changed field, a dropped, reordered or repeated
//! entry, a changed proof, or a checkpoint signed by another key is named.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use app::model::Source;
use axum::{body::Body, http::Request};
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::{
    domain::{auth::Scope, entry::event::parse_batch, integrity::checkpoint::SigningKey},
    infra::verify_export::{verify, Beside},
    service::{checkpoints::sign_once, tree::integrate},
    storage::entries,
};

const ORIGIN: &str = "trailkeep.test/log";

async fn append(pool: &PgPool, n: usize) {
    let batch: Vec<_> = (0..n)
        .map(|i| {
            json!({"action": if i % 3 == 0 { "config.updated" } else { "doc.viewed" },
                   "actor": {"id": format!("u{}", i % 7), "name": "Ada"},
                   "occurred_at": format!("2026-11-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
                   "details": {"i": i, "x": 1.5}})
        })
        .collect();
    entries::append(pool, Source::Trailkeep, parse_batch(&json!(batch)).unwrap())
        .await
        .unwrap();
}

/// 300 entries under a signed checkpoint, 4 newer ones; the export of `query` as text.
async fn setup(pool: &PgPool, key: &SigningKey) -> (axum::Router, String) {
    append(pool, 300).await;
    integrate(pool).await.unwrap();
    sign_once(pool, key, Duration::ZERO, None).await.unwrap();
    append(pool, 4).await;
    integrate(pool).await.unwrap();
    (
        common::router_with_key(pool, Some(key.verifier())).await,
        common::key(pool, &[Scope::Read]).await,
    )
}

/// `GET path` with key `k`, which must answer 200: the body.
async fn read(app: &axum::Router, k: &str, path: String) -> String {
    let r = common::send(
        app,
        Request::get(path)
            .header("authorization", format!("Bearer {k}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
}

async fn export(app: &axum::Router, k: &str, query: &str) -> String {
    read(app, k, format!("/api/v1/events/export?{query}")).await
}

fn file(text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("trailkeep-export-{}", uuid::Uuid::new_v4()));
    std::fs::write(&path, text).unwrap();
    path
}

/// verify-export's verdict on `text`.
fn verdict(text: &str, key: &SigningKey) -> Result<(u64, u64, u64), String> {
    summary(text, key, true).map(|s| (s.entries, s.proven, s.newer))
}

/// verify-export's whole summary; `allow_unproven` as its flag.
fn summary(
    text: &str,
    key: &SigningKey,
    allow_unproven: bool,
) -> Result<trailkeep::domain::export::check::Summary, String> {
    summary_beside(text, key, allow_unproven, &Beside::default())
}

/// verify-export's summary with what travels beside a CSV or NDJSON export.
fn summary_beside(
    text: &str,
    key: &SigningKey,
    allow_unproven: bool,
    beside: &Beside,
) -> Result<trailkeep::domain::export::check::Summary, String> {
    let path = file(text);
    let out = verify(&path, key.verifier(), allow_unproven, beside).unwrap();
    let _ = std::fs::remove_file(&path);
    out.map_err(|f| f.to_string())
}

/// The checkpoint of `size` entries as the API serves it (what travels beside an export).
async fn checkpoint_note(app: &axum::Router, k: &str, size: u64) -> String {
    read(app, k, format!("/api/v1/integrity/checkpoint?size={size}")).await
}

fn refused(text: &str, key: &SigningKey, because: &str) {
    match verdict(text, key) {
        Ok(s) => panic!("accepted ({s:?}); expected: {because}"),
        Err(why) => assert!(why.contains(because), "{why:?} does not say {because:?}"),
    }
}

/// The JSON export with `change` applied to its document (written back in the export's key
/// order: head, entries, counts).
fn json_with(text: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut doc: Value = serde_json::from_str(text).unwrap();
    change(&mut doc);
    format!(
        r#"{{"export":{},"entries":{},"count":{},"proven":{}}}"#,
        doc["export"], doc["entries"], doc["count"], doc["proven"]
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn an_untouched_json_export_verifies_and_a_changed_one_is_named(pool: PgPool) {
    let key = SigningKey::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
    let (app, k) = setup(&pool, &key).await;
    let all = export(&app, &k, "format=json").await;
    // Every entry (the key's creation too): 300 proven, the rest newer than the checkpoint.
    let (n, proven, newer) = verdict(&all, &key).unwrap();
    assert_eq!((proven, n - newer), (300, 300));
    assert!(newer >= 4);
    let filtered = export(&app, &k, "format=json&action=config.*&order=asc").await;
    assert_eq!(verdict(&filtered, &key).unwrap(), (102, 100, 2));

    let doc: Value = serde_json::from_str(&all).unwrap();
    let proven_at = |doc: &Value, i: usize| !doc["entries"][i]["inclusion_proof"].is_null();
    let i = (0..50).find(|&i| proven_at(&doc, i)).unwrap();
    // A changed field.
    refused(
        &json_with(&all, |d| d["entries"][i]["actor"]["name"] = json!("Eve")),
        &key,
        "a field was changed",
    );
    refused(
        &json_with(&all, |d| d["entries"][i]["details"]["x"] = json!(1.25)),
        &key,
        "a field was changed",
    );
    // A changed field with its leaf hash recomputed: the proof no longer leads to the root.
    refused(
        &json_with(&all, |d| {
            let mut e: app::model::AuditEntry =
                serde_json::from_value(d["entries"][i].clone()).unwrap();
            e.actor.name = Some("Eve".into());
            let record = trailkeep::domain::entry::record::EntryRecord::from_entry(&e).unwrap();
            d["entries"][i]["actor"]["name"] = json!("Eve");
            d["entries"][i]["leaf_hash"] = json!(hex::encode(record.leaf_hash()));
        }),
        &key,
        "inclusion proof does not lead",
    );
    // A changed proof.
    refused(
        &json_with(&all, |d| {
            d["entries"][i]["inclusion_proof"][0] = json!("00".repeat(32))
        }),
        &key,
        "inclusion proof does not lead",
    );
    // A dropped entry (count left), and one dropped with the count fixed: an export of
    // everything must hold every entry its checkpoint covers.
    refused(
        &json_with(&all, |d| {
            d["entries"].as_array_mut().unwrap().remove(i);
        }),
        &key,
        "entries were removed",
    );
    refused(
        &json_with(&all, |d| {
            d["entries"].as_array_mut().unwrap().remove(i);
            d["count"] = json!(d["count"].as_u64().unwrap() - 1);
            d["proven"] = json!(299);
        }),
        &key,
        "lacks seq",
    );
    // A reordered or repeated entry.
    refused(
        &json_with(&all, |d| {
            d["entries"].as_array_mut().unwrap().swap(i, i + 1)
        }),
        &key,
        "out of the export's order",
    );
    // A checkpoint signed by another key, or read with another pinned key.
    let other = SigningKey::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
    refused(&all, &other, "signature does not verify");
    let forged = other
        .sign(&trailkeep::domain::integrity::checkpoint::Checkpoint {
            origin: ORIGIN.into(),
            size: 300,
            root: [1; 32],
        })
        .unwrap();
    refused(
        &json_with(&all, |d| d["export"]["checkpoint"] = json!(forged)),
        &key,
        "signature does not verify",
    );
    // Cut short.
    refused(&all[..all.len() / 2], &key, "not a whole");

    // Read as every other tool reads it (issue 22, finding 8): a second entries list, a
    // repeated member inside an entry, a member no export holds.
    let (open, rest) = all.split_once(r#""entries":["#).unwrap();
    let second = format!(r#"{open}"entries":[],"entries":[{rest}"#);
    refused(&second, &key, "appears twice");
    refused(
        &all.replacen(r#""action":""#, r#""action":"x.y","action":""#, 1),
        &key,
        "appears twice",
    );
    refused(
        &json_with(&all, |d| d["entries"][i]["note"] = json!("unhashed")),
        &key,
        "never writes",
    );
    refused(
        &json_with(&all, |d| d["export"]["complete"] = json!(true)),
        &key,
        "never writes",
    );
    // Relabelled as filtered: the entries no longer match what it says it holds.
    refused(
        &json_with(&all, |d| d["export"]["filter"] = json!("action=config.*")),
        &key,
        "does not match the export's filter",
    );
    // A stated period that is not the filter's, or entries outside the filter's window.
    refused(
        &json_with(&all, |d| {
            d["export"]["to"] = json!("2026-11-02T00:00:00.000000Z")
        }),
        &key,
        "the export was changed",
    );
    let window = export(&app, &k, "format=json&from=2026-11-05&to=2026-11-10").await;
    assert!(verdict(&window, &key).is_ok());
    let outside = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["occurred_at"].as_str().unwrap() > "2026-11-11")
        .unwrap()
        .clone();
    // Widened (stated period and all), or downgraded to format 2 without a period: an added
    // entry from outside the filter's own window is named.
    let widen = |d: &mut Value| {
        d["export"]["from"] = json!(null);
        d["export"]["to"] = json!(null);
    };
    let downgrade = |d: &mut Value| {
        d["export"]["format_version"] = json!(2);
        let head = d["export"].as_object_mut().unwrap();
        head.remove("from");
        head.remove("to");
    };
    for change in [&widen as &dyn Fn(&mut Value), &downgrade] {
        let changed = json_with(&window, |d| {
            change(d);
            d["entries"]
                .as_array_mut()
                .unwrap()
                .insert(0, outside.clone());
            d["count"] = json!(d["count"].as_u64().unwrap() + 1);
        });
        let why = verdict(&changed, &key).unwrap_err();
        assert!(
            why.contains("export was changed") || why.contains("lies outside the period"),
            "{why}"
        );
    }
    let newest = (0..doc["entries"].as_array().unwrap().len())
        .find(|&i| !proven_at(&doc, i))
        .unwrap();
    refused(
        &json_with(&all, |d| d["entries"][newest]["seq"] = json!(-5)),
        &key,
        "never negative",
    );
    refused(
        &json_with(&all, |d| {
            d["entries"][newest]["seq"] = json!(1_000_000_000_000i64)
        }),
        &key,
        "a field was changed",
    );
    // ... and with its leaf hash recomputed: a gap after the checkpoint in an export of all.
    refused(
        &json_with(&all, |d| {
            let mut e: app::model::AuditEntry =
                serde_json::from_value(d["entries"][newest].clone()).unwrap();
            e.seq = 1_000_000_000_000;
            let record = trailkeep::domain::entry::record::EntryRecord::from_entry(&e).unwrap();
            d["entries"][newest]["seq"] = json!(e.seq);
            d["entries"][newest]["leaf_hash"] = json!(hex::encode(record.leaf_hash()));
        }),
        &key,
        "without a gap",
    );
    // Unproven entries are refused unless allowed; the summary says what it verified.
    let strict = summary(&all, &key, false).unwrap_err();
    assert!(strict.contains("--allow-unproven"), "{strict}");
    let s = summary(&all, &key, true).unwrap();
    assert!(s.complete && s.filter.as_deref() == Some(""), "{s:?}");
    let s = summary(&filtered, &key, true).unwrap();
    assert!(
        !s.complete && s.filter.as_deref().is_some_and(|f| f.contains("config")),
        "{s:?}"
    );
    assert!(s.period_from_filter && s.period.is_some(), "{s:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_untouched_ndjson_export_verifies_and_a_changed_one_is_named(pool: PgPool) {
    let key = SigningKey::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
    let (app, k) = setup(&pool, &key).await;
    let text = export(&app, &k, "format=ndjson&action=config.*").await;
    let lines: Vec<&str> = text.lines().collect();
    // Every line is an entry; the proven ones name their checkpoint's size.
    let entries: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 102);
    let size = entries
        .iter()
        .find_map(|e| e["checkpoint_size"].as_u64())
        .unwrap();
    let note = checkpoint_note(&app, &k, size).await;
    let beside = Beside {
        checkpoint: Some(note.clone()),
        filter: Some("action=config.*".into()),
        count: Some(102),
        head: None,
    };
    let verdict = |text: &str, beside: &Beside| {
        summary_beside(text, &key, true, beside).map(|s| (s.entries, s.proven, s.newer))
    };
    assert_eq!(verdict(&text, &beside).unwrap(), (102, 100, 2));
    let refused = |text: &str, beside: &Beside, because: &str| match verdict(text, beside) {
        Ok(s) => panic!("accepted ({s:?}); expected: {because}"),
        Err(why) => assert!(why.contains(because), "{why:?} does not say {because:?}"),
    };
    let join = |lines: &[&str]| lines.join("\n") + "\n";
    let k = lines
        .iter()
        .position(|l| l.contains("\"inclusion_proof\":["))
        .unwrap();
    // A dropped line (the count the console stated says so).
    let mut dropped = lines.clone();
    dropped.remove(k);
    refused(&join(&dropped), &beside, "entries were removed");
    // A reordered line.
    let mut moved = lines.clone();
    moved.swap(k, k + 1);
    refused(&join(&moved), &beside, "out of the export's order");
    // A repeated line.
    let mut twice = lines.clone();
    twice.insert(k, lines[k]);
    refused(&join(&twice), &beside, "out of the export's order");
    // A changed field.
    let changed = text.replacen(
        "\"action\":\"config.updated\"",
        "\"action\":\"config.deleted\"",
        1,
    );
    refused(&changed, &beside, "a field was changed");
    // An entry that does not match the filter the auditor states.
    let other = Beside {
        filter: Some("action=doc.*".into()),
        ..beside.clone()
    };
    refused(&text, &other, "does not match the export's filter");
    // A changed checkpoint size beside a proof.
    let resized = text.replacen(
        &format!("\"checkpoint_size\":{size}"),
        &format!("\"checkpoint_size\":{}", size + 1),
        1,
    );
    refused(&resized, &beside, "checkpoint_size");
    // Without its checkpoint nothing can be proven: said, not guessed.
    refused(&text, &Beside::default(), "give the checkpoint");
    // Without the filter and the count, what is checked is checked and the rest said.
    let s = summary_beside(
        &text,
        &key,
        true,
        &Beside {
            checkpoint: Some(note),
            ..Beside::default()
        },
    )
    .unwrap();
    assert!(
        s.filter.is_none() && !s.count_checked && !s.complete,
        "{s:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_untouched_csv_export_verifies_and_a_changed_one_is_named(pool: PgPool) {
    let key = SigningKey::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
    let (app, k) = setup(&pool, &key).await;
    let text = export(&app, &k, "format=csv&action=config.*").await;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    // Every record is an entry, with its proof and its checkpoint's size.
    assert_eq!(records.len(), 102);
    let size: u64 = records.iter().find_map(|r| r[20].parse().ok()).unwrap();
    let beside = Beside {
        checkpoint: Some(checkpoint_note(&app, &k, size).await),
        filter: Some("action=config.*".into()),
        count: Some(102),
        head: None,
    };
    let s = summary_beside(&text, &key, true, &beside).unwrap();
    assert_eq!((s.entries, s.proven, s.newer), (102, 100, 2), "{s:?}");
    let refused = |text: &str, because: &str| match summary_beside(text, &key, true, &beside) {
        Ok(s) => panic!("accepted ({s:?}); expected: {because}"),
        Err(why) => assert!(why.contains(because), "{why:?} does not say {because:?}"),
    };
    // A changed cell.
    refused(
        &text.replacen(",config.updated,", ",config.deleted,", 1),
        "a field was changed",
    );
    // A dropped record.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(5);
    refused(&(lines.join("\n") + "\n"), "entries were removed");
}

/// A server holding the key signs a checkpoint for an export on demand and cuts the export at
/// it: every entry is proven, and verify-export passes without --allow-unproven.
#[sqlx::test(migrations = "../migrations")]
async fn an_export_is_cut_at_a_checkpoint_signed_for_it(pool: PgPool) {
    let key = SigningKey::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
    append(&pool, 30).await;
    integrate(&pool).await.unwrap();
    sign_once(&pool, &key, Duration::ZERO, None).await.unwrap();
    // Past the on-demand interval since that checkpoint (the condition the signer checks, awaited).
    let signed_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT max(signed_at) FROM checkpoints")
            .fetch_one(&pool)
            .await
            .unwrap();
    let every = trailkeep::service::checkpoints::ON_DEMAND_EVERY;
    while chrono::Utc::now() - signed_at <= chrono::Duration::from_std(every).unwrap() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    append(&pool, 3).await; // newer than the checkpoint, not yet in the tree
                            // One dated in the future (a client's clock): an export of everything holds it, and
                            // verifies.
    entries::append(
        &pool,
        Source::Trailkeep,
        parse_batch(&json!([{"action": "doc.viewed", "actor": {"id": "u"},
                             "occurred_at": "2031-01-01T00:00:00Z"}]))
        .unwrap(),
    )
    .await
    .unwrap();
    let k = common::key(&pool, &[Scope::Read]).await;
    let app = common::router_signing(&pool, &key).await;
    let all = export(&app, &k, "format=json").await;
    let s = summary(&all, &key, false).unwrap();
    assert_eq!((s.entries, s.proven, s.newer), (35, 35, 0), "{s:?}");
    assert!(s.complete);
    let nd = export(&app, &k, "format=ndjson&action=doc.viewed").await;
    let first: Value = serde_json::from_str(nd.lines().next().unwrap()).unwrap();
    let size = first["checkpoint_size"].as_u64().unwrap();
    let beside = Beside {
        checkpoint: Some(checkpoint_note(&app, &k, size).await),
        ..Beside::default()
    };
    let s = summary_beside(&nd, &key, false, &beside).unwrap();
    assert_eq!(s.newer, 0, "{s:?}");
}
