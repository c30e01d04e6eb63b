//! The attack review of issue 22, each finding kept as a test against a real PostgreSQL, run as
//! the principal the finding names (an ingest key, the server's role `trailkeep_writer`, the
//! tables' owner with the guards switched off):
//! - what is hashed is what PostgreSQL stores (leap seconds and year 0 refused; random events
//!   round-trip through PostgreSQL to the hash they were acknowledged with);
//! - the server's role cannot write the tree or checkpoints, nor make the signer sign invented
//!   leaves, nor wedge it with a junk checkpoint;
//! - the signer's memory outside the database exposes a cut tail the owner made consistent;
//! - the server's role cannot skew the volume chart's rollup;
//! - the server's role holds exactly the privileges the README lists.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use app::model::Source;
use axum::{body::Body, http::Request};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::{
    domain::{auth::Scope, entry::event::parse_batch, integrity::checkpoint::SigningKey},
    service::{
        checkpoints::{self, health, newest_verified, sign_once, CheckpointHealth, Memory},
        checkpoints::{Refusal, SignError, Signed},
        tree::{self, integrate, TreeVerdict},
    },
    storage::{self, entries},
};

const ORIGIN: &str = "trailkeep.test/log";

fn key() -> SigningKey {
    SigningKey::generate(ORIGIN, &mut rand_core::OsRng).unwrap()
}

async fn append(pool: &PgPool, n: usize) {
    let batch: Vec<_> = (0..n)
        .map(|i| json!({"action": "doc.viewed", "actor": {"id": format!("u{i}")}}))
        .collect();
    entries::append(pool, Source::Trailkeep, parse_batch(&json!(batch)).unwrap())
        .await
        .unwrap();
}

async fn post(app: &axum::Router, key: &str, body: &Value) -> common::Reply {
    common::send(app, common::post_json(Some(key), body.to_string())).await
}

// --- 1. What is hashed is what is stored -------------------------------------------------

#[sqlx::test(migrations = "../migrations")]
async fn leap_seconds_and_years_outside_0001_to_9999_are_refused_naming_the_field(pool: PgPool) {
    let app = common::router(&pool).await;
    let k = common::key(&pool, &[Scope::Ingest]).await;
    for (at, word) in [
        ("2026-11-25T10:00:60Z", "leap second"),
        ("2016-12-31T23:59:60Z", "leap second"),
        ("0000-06-01T00:00:00Z", "0001-01-01"),
        ("0001-01-01T00:30:00+01:00", "0001-01-01"),
    ] {
        let r = post(
            &app,
            &k,
            &json!({"action": "a.b", "actor": {"id": "u"}, "occurred_at": at}),
        )
        .await;
        assert_eq!(r.status, 400, "{at}: {}", r.text);
        assert_eq!(r.body["details"][0]["field"], "occurred_at", "{at}");
        let message = r.body["details"][0]["message"].as_str().unwrap();
        assert!(message.contains(word), "{at}: {message}");
    }
    // The edges themselves are stored and hash as acknowledged.
    for at in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"] {
        let r = post(
            &app,
            &k,
            &json!({"action": "a.b", "actor": {"id": "u"}, "occurred_at": at}),
        )
        .await;
        assert_eq!(r.status, 201, "{at}: {}", r.text);
    }
    assert_eq!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(3) // the key's creation, then the two events
    );
    assert_eq!(integrate(&pool).await.unwrap(), 3);
}

/// Any JSON value an event's `details` may hold, a few levels deep.
fn details_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
        // Numbers with a fraction, of every magnitude (integers beyond 2^53 are refused).
        (-1e15f64..1e15)
            .prop_filter("a fraction", |f| f.fract() != 0.0)
            .prop_map(Value::from),
        (any::<i32>(), -300i32..-1).prop_map(|(m, e)| Value::from(m as f64 * 10f64.powi(e))),
        Just(json!(0.1)),
        Just(json!(-0.5)),
        Just(json!(5e-324)),
        Just(json!(1.7976931348623157e308_f64.recip())),
        "[^\u{0}]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map("[^\u{0}]{0,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An address in one of the text forms clients send: IPv4, IPv6 compressed or not, upper
/// case, IPv4-mapped and IPv4-compatible (mixed or hex).
fn ip_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
        any::<[u16; 8]>().prop_map(|w| std::net::Ipv6Addr::from(w).to_string()),
        any::<[u16; 8]>().prop_map(|w| {
            w.iter()
                .map(|x| format!("{x:X}"))
                .collect::<Vec<_>>()
                .join(":")
        }),
        any::<[u8; 4]>().prop_map(|b| format!("::ffff:{}", std::net::Ipv4Addr::from(b))),
        any::<[u8; 4]>().prop_map(|b| format!("::{}", std::net::Ipv4Addr::from(b))),
        any::<[u16; 2]>().prop_map(|w| format!("::{:x}:{:x}", w[0], w[1])),
        any::<[u16; 2]>().prop_map(|w| format!("::ffff:{:x}:{:x}", w[0], w[1])),
    ]
}

/// An instant from year 0001 to 9999 written with an offset, to the nanosecond.
fn instant_text() -> impl Strategy<Value = String> {
    (
        -62_135_596_800i64 + 86_400..253_402_300_799 - 86_400,
        0u32..1_000_000_000,
        -(23 * 60 + 59)..(23 * 60 + 59i32),
    )
        .prop_map(|(secs, nanos, offset)| {
            let zone = chrono::FixedOffset::east_opt(offset * 60).unwrap();
            chrono::DateTime::from_timestamp(secs, nanos)
                .unwrap()
                .with_timezone(&zone)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        })
}

fn event() -> impl Strategy<Value = Value> {
    (
        "[a-z0-9_]{1,6}\\.[a-z0-9_]{1,6}",
        "[a-zA-Z0-9_]{1,3}[^\u{0}]{0,17}",
        proptest::option::of("[^\u{0}]{0,20}"),
        proptest::option::of(ip_text()),
        proptest::option::of(instant_text()),
        proptest::option::of("[^\u{0}]{0,40}"),
        prop::collection::btree_map("[^\u{0}]{0,8}", details_value(), 0..6),
    )
        .prop_map(|(action, actor, name, ip, at, agent, details)| {
            json!({"action": action, "actor": {"id": actor, "name": name}, "ip": ip,
                   "occurred_at": at, "user_agent": agent,
                   "details": Value::Object(details.into_iter().collect())})
        })
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TRAILKEEP_PYTHON") {
        return p.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py/bin/python3")
}

/// Random events (times with offsets and nanoseconds, every IPv6 form, unicode, numbers, deep
/// details) go through the ingest API into PostgreSQL; read back, each gives the leaf hash it
/// was acknowledged with, the tree takes every one, and the README's Python recipe agrees.
#[sqlx::test(migrations = "../migrations")]
async fn random_events_round_trip_through_postgresql_to_their_acknowledged_hash(pool: PgPool) {
    let app = common::router(&pool).await;
    let ingest = common::key(&pool, &[Scope::Ingest]).await;
    let read = common::key(&pool, &[Scope::Read]).await;
    let mut runner = TestRunner::deterministic();
    let strategy = event();
    let mut acked: Vec<(i64, String)> = Vec::new();
    for _ in 0..8 {
        let batch: Vec<Value> = (0..50)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect();
        let r = post(&app, &ingest, &Value::Array(batch)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        for a in r.body["entries"].as_array().unwrap() {
            acked.push((
                a["seq"].as_i64().unwrap(),
                a["leaf_hash"].as_str().unwrap().to_string(),
            ));
        }
    }
    let stored = entries::rows_by_seq(&pool, 0, i64::MAX).await.unwrap();
    // Every batch acknowledged each of its events (a check per entry proves nothing on none).
    assert_eq!(acked.len(), 8 * 50);
    for (seq, leaf) in &acked {
        let row = &stored[*seq as usize];
        assert_eq!(hex::encode(row.record.leaf_hash()), *leaf, "seq {seq}");
    }
    let total = stored.len() as i64;
    assert_eq!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(total)
    );
    assert_eq!(integrate(&pool).await.unwrap(), total as u64);
    assert!(matches!(
        tree::verify(&pool).await.unwrap(),
        TreeVerdict::Ok { size, .. } if size == total as u64
    ));

    // The README's recipe (Python's rfc8785) over every entry, as an auditor would run it.
    let r = common::send(
        &app,
        Request::get("/api/v1/events/export?format=json&order=asc")
            .header("authorization", format!("Bearer {read}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let file = std::env::temp_dir().join(format!("trailkeep-rt-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, &r.text).unwrap();
    let out = std::process::Command::new(python())
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/recipe.py"))
        .arg(&file)
        .output()
        .expect("python runs (make py installs it)");
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with(&format!("ok {total} ")), "{stdout}");
}

// --- 2. The tree and checkpoints are the database's to check ------------------------------

/// The server's role tries to write the tree and the checkpoints itself: every statement is
/// refused, and the signer signs only the tree of the log's real entries.
#[sqlx::test(migrations = "../migrations")]
async fn the_server_role_cannot_invent_leaves_or_checkpoints(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let key = key();
    append(&writer, 102).await;
    integrate(&writer).await.unwrap();
    let invented = format!("'\\x{}'", "ab".repeat(32));
    let attacks = [
        format!("INSERT INTO tree_hashes (chunk, hashes) VALUES (1000, {invented})"),
        format!("UPDATE tree_hashes SET hashes = hashes || {invented} WHERE chunk = 0"),
        "UPDATE tree_state SET size = 112".to_string(),
        format!("INSERT INTO checkpoints (size, root, key_id, note) VALUES (9000000000000000000, {invented}, 1, 'x')"),
        // Through the functions it may call: never past the log, never a root the tree lacks.
        "SELECT tree_extend(112)".to_string(),
        format!("SELECT checkpoint_insert(9000000000000000000, {invented}, 1, 'x')"),
        format!("SELECT checkpoint_insert(100, {invented}, 1, 'x')"),
        "SELECT checkpoint_insert(100, tree_root_at(100), 1, E'o\\n99\\nx\\n')".to_string(),
    ];
    for sql in &attacks {
        let err = sqlx::query(sql)
            .execute(&writer)
            .await
            .expect_err(sql)
            .to_string();
        assert!(
            [
                "permission denied",
                "beyond",
                "cannot cover",
                "not the tree's root",
                "does not state"
            ]
            .iter()
            .any(|m| err.contains(m)),
            "{sql}: {err}"
        );
    }
    assert_eq!(storage::tree::state(&pool).await.unwrap().0, 102);
    assert_eq!(
        sign_once(&writer, &key, Duration::ZERO, None)
            .await
            .unwrap(),
        Signed::New(102)
    );
}

/// The volume chart reads whole hours from rollups only the log's trigger writes: as the
/// server's role one can neither add, change nor remove their counts, while appending through
/// that role keeps them equal to the log's.
#[sqlx::test(migrations = "../migrations")]
async fn the_server_role_cannot_skew_the_volume_chart(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    append(&writer, 30).await;
    for sql in [
        "UPDATE volume_actions SET entries = entries + 1000",
        "UPDATE volume_actors SET entries = entries + 1000",
        "UPDATE volume_resources SET entries = entries + 1000",
        "UPDATE volume_ips SET entries = entries + 1000",
        "DELETE FROM volume_actions",
        "DELETE FROM volume_actors",
        "DELETE FROM volume_resources",
        "DELETE FROM volume_ips",
        "INSERT INTO volume_actions (hour, action, status, entries) \
         VALUES (date_trunc('hour', now(), 'UTC'), 'doc.viewed', 'success', 500)",
        "INSERT INTO volume_actors (hour, actor_id, status, entries) \
         VALUES (date_trunc('hour', now(), 'UTC'), 'ghost', 'success', 500)",
        "INSERT INTO volume_resources (hour, resource_type, resource_id, status, entries) \
         VALUES (date_trunc('hour', now(), 'UTC'), 'config', 'cfg_ghost', 'success', 500)",
        "INSERT INTO volume_ips (hour, ip, status, entries) \
         VALUES (date_trunc('hour', now(), 'UTC'), '10.9.9.9', 'success', 500)",
        "TRUNCATE volume_actions",
        "TRUNCATE volume_resources, volume_ips",
        "SELECT volume_count()",
    ] {
        let err = sqlx::query(sql)
            .execute(&writer)
            .await
            .expect_err(sql)
            .to_string();
        assert!(
            err.contains("permission denied")
                || err.contains("trigger functions can only be called as triggers"),
            "{sql}: {err}"
        );
    }
    assert_eq!(common::rollup_totals(&writer).await, (vec![30; 4], 30));
}

/// An ingest key sends the largest fields the API accepts, in characters of four UTF-8 bytes
/// that do not compress: every unique key over them (the picker's statistics, the rollups by
/// actor and by resource) holds hashes, so the append succeeds and is counted everywhere; with
/// the texts themselves in the keys it was a 500 (a btree row holds at most 2,704 bytes).
#[sqlx::test(migrations = "../migrations")]
async fn the_largest_fields_the_api_accepts_are_appended_and_counted(pool: PgPool) {
    let app = common::router(&pool).await;
    let k = common::key(&pool, &[Scope::Ingest]).await;
    // 512 characters from U+20000 on, a different sequence per field (a fixed LCG).
    let mut state = 0x2545_f491_u64;
    let mut text = || -> String {
        (0..trailkeep::domain::entry::event::MAX_TEXT_LEN)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                char::from_u32(0x20000 + (state >> 33) as u32 % 0xA6DF).unwrap()
            })
            .collect()
    };
    let (actor, resource) = (text(), text());
    let event = json!({
        "action": "doc.viewed",
        "occurred_at": "2026-11-20T10:30:00Z",
        "actor": {"id": actor, "name": text(), "email": text()},
        "resource": {"type": text(), "id": resource},
    });
    for _ in 0..2 {
        let r = post(&app, &k, &event).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // Every rollup counts every entry of the log (the key's creation is one too).
    let (rollups, entries) = common::rollup_totals(&pool).await;
    assert_eq!(rollups, vec![entries; 4]);
    let (stats, counted): (i64, i64) = sqlx::query_as(
        "SELECT count(*), sum(entry_count)::bigint FROM actor_stats WHERE actor_id = $1",
    )
    .bind(&actor)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((stats, counted), (1, 2), "one actor, counted twice");
    let (rows, entries): (i64, i64) = sqlx::query_as(
        "SELECT count(*), sum(entries)::bigint FROM volume_resources WHERE resource_id = $1",
    )
    .bind(&resource)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (rows, entries),
        (1, 2),
        "one resource and hour, counted twice"
    );
}

/// The server's role shadows a rollup with a temporary table of the same name and key, with a
/// trigger of its own, then appends: the log's trigger (running as the owner) still writes the
/// real rollup, never the role's table, so the role's code never runs as the owner. And every
/// function that runs as the owner searches the temporary schema last.
#[sqlx::test(migrations = "../migrations")]
async fn a_temporary_table_cannot_shadow_what_the_owner_writes(pool: PgPool) {
    // One connection: the temporary table lives in its session.
    let writer = trailkeep::storage::connect_with((*pool.connect_options()).clone(), 1)
        .await
        .unwrap();
    for sql in [
        "CREATE TEMP TABLE ran_as (who text)",
        "CREATE TEMP TABLE volume_actions (hour timestamptz, action text, category text, \
         source text, status text, entries bigint, \
         CONSTRAINT volume_actions_key UNIQUE NULLS NOT DISTINCT (hour, action, source, status))",
        "CREATE FUNCTION pg_temp.caught() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN INSERT INTO pg_temp.ran_as VALUES (current_user); RETURN NULL; END $$",
        "CREATE TRIGGER caught AFTER INSERT ON pg_temp.volume_actions \
         FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.caught()",
    ] {
        sqlx::query(sql).execute(&writer).await.expect(sql);
    }
    append(&writer, 12).await;
    let (shadowed, ran): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_temp.volume_actions), (SELECT count(*) FROM pg_temp.ran_as)",
    )
    .fetch_one(&writer)
    .await
    .unwrap();
    assert_eq!(
        (shadowed, ran),
        (0, 0),
        "the owner's trigger wrote the role's table"
    );
    assert_eq!(common::rollup_totals(&pool).await, (vec![12; 4], 12));
    let unsafe_paths: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'public' AND p.prosecdef \
         AND NOT coalesce('search_path=pg_catalog, public, pg_temp' = ANY(p.proconfig), false) \
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        unsafe_paths.is_empty(),
        "owner's functions that search the temporary schema first: {unsafe_paths:?}"
    );
}

/// A checkpoint row the server's role stores without the key (its size and root right, its
/// signature not) is reported, never obeyed: exports and the console keep the newest one
/// that verifies, and the signer goes on signing.
#[sqlx::test(migrations = "../migrations")]
async fn a_forged_checkpoint_row_is_reported_and_passed_over(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let key = key();
    append(&writer, 40).await;
    integrate(&writer).await.unwrap();
    sign_once(&writer, &key, Duration::ZERO, None)
        .await
        .unwrap();
    append(&writer, 10).await;
    integrate(&writer).await.unwrap();
    // Signed with another key, for this log's name: the database cannot tell.
    let forger = self::key();
    let (size, root) = storage::tree::state(&pool).await.unwrap();
    let forged = forger
        .sign(&trailkeep::domain::integrity::checkpoint::Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
        })
        .unwrap();
    storage::checkpoints::insert(
        &mut writer.acquire().await.unwrap(),
        size,
        &root,
        forger.verifier().id(),
        &forged,
    )
    .await
    .unwrap();
    let served = newest_verified(&writer, Some(key.verifier()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(served.size, 40);
    assert!(matches!(
        health(&pool, key.verifier(), None, None).await.unwrap(),
        CheckpointHealth::Refused(Refusal::Unverified { size: 50, .. })
    ));
    // The signer signs the next size (the forged row holds 50).
    append(&writer, 1).await;
    integrate(&writer).await.unwrap();
    assert_eq!(
        sign_once(&writer, &key, Duration::ZERO, None)
            .await
            .unwrap(),
        Signed::New(51)
    );
    assert_eq!(
        newest_verified(&writer, Some(key.verifier()))
            .await
            .unwrap()
            .unwrap()
            .size,
        51
    );
    // A forged row at the very size the signer is about to sign does not block it either.
    append(&writer, 2).await;
    integrate(&writer).await.unwrap();
    let (size, root) = storage::tree::state(&pool).await.unwrap();
    let forged = forger
        .sign(&trailkeep::domain::integrity::checkpoint::Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
        })
        .unwrap();
    sqlx::query("SELECT checkpoint_insert($1, $2, $3, $4)")
        .bind(size as i64)
        .bind(&root[..])
        .bind(i64::from(forger.verifier().id()))
        .bind(&forged)
        .execute(&writer)
        .await
        .unwrap();
    assert_eq!(
        sign_once(&writer, &key, Duration::ZERO, None)
            .await
            .unwrap(),
        Signed::New(size)
    );
    assert_eq!(
        newest_verified(&writer, Some(key.verifier()))
            .await
            .unwrap()
            .unwrap()
            .size as u64,
        size
    );
}

/// A leaf the server's role slipped into the tree through `tree_extend` past an entry whose
/// stored fields do not give its leaf hash: the signer recomputes the new leaves and refuses.
#[sqlx::test(migrations = "../migrations")]
async fn the_signer_recomputes_new_leaves_from_the_entries(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let key = key();
    append(&writer, 5).await;
    integrate(&writer).await.unwrap();
    sign_once(&writer, &key, Duration::ZERO, None)
        .await
        .unwrap();
    // A row with a right chain hash but a leaf hash of other content (the chain trigger
    // checks the chain only), then the tree asked to take it.
    let (next, head): (i64, Vec<u8>) = sqlx::query_as("SELECT next_seq, head_hash FROM chain_head")
        .fetch_one(&pool)
        .await
        .unwrap();
    let leaf = [7u8; 32];
    let chain = trailkeep::domain::entry::chain::chain_hash(&head.try_into().unwrap(), &leaf);
    sqlx::query(
        "INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, \
         action, status, details, form, source, leaf_hash, chain_hash) VALUES ($1, \
         gen_random_uuid(), now(), now(), 'user', 'x', 'payment.approved', 'success', '{}', 2, \
         'trailkeep', $2, $3)",
    )
    .bind(next)
    .bind(&leaf[..])
    .bind(&chain[..])
    .execute(&writer)
    .await
    .unwrap();
    sqlx::query("SELECT tree_extend($1)")
        .bind(next + 1)
        .execute(&writer)
        .await
        .unwrap();
    assert!(matches!(
        sign_once(&writer, &key, Duration::ZERO, None).await,
        Err(SignError::Refused(Refusal::Leaf { seq: 5 }))
    ));
    // Monitoring sees it: the tree grew and nothing is signed any more (once the clock has
    // passed the newest checkpoint: polled, not slept).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = health(&pool, key.verifier(), None, Some(Duration::ZERO))
            .await
            .unwrap();
        if matches!(
            seen,
            CheckpointHealth::Refused(Refusal::Stalled {
                tree: 6,
                checkpoint: 5,
                ..
            })
        ) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "monitoring never saw the stall: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The integrator names it too (the tree stops there: an alarm).
    assert_eq!(
        tree::health(&pool).await.unwrap(),
        tree::TreeHealth::Ok { size: 6 }
    );
    assert!(matches!(
        tree::verify(&pool).await.unwrap(),
        TreeVerdict::Bad(_)
    ));
}

// --- 3. The signer remembers outside the database -----------------------------------------

/// The owner switches the guards off, cuts the last entries and rebuilds the head, the tree
/// and the checkpoints so that the database agrees with itself: the signer's memory beside
/// the key refuses the rewound tree, and so does `health`.
#[sqlx::test(migrations = "../migrations")]
async fn the_signers_memory_exposes_a_cut_tail_the_database_agrees_with(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let key = key();
    let dir = std::env::temp_dir().join(format!("trailkeep-mem-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let memory = Memory::beside(&dir.join("log.key"));
    append(&writer, 60).await;
    integrate(&writer).await.unwrap();
    assert_eq!(
        sign_once(&writer, &key, Duration::ZERO, Some(&memory))
            .await
            .unwrap(),
        Signed::New(60)
    );
    assert_eq!(memory.recall(key.verifier()).unwrap().unwrap().size, 60);
    common::cut_tail_as_owner(&pool, 50).await;
    append(&writer, 15).await; // a second history, longer than the first
    integrate(&writer).await.unwrap();
    assert!(matches!(
        trailkeep::service::chain::verify(&pool).await.unwrap(),
        Ok(65)
    ));
    assert!(matches!(
        sign_once(&writer, &key, Duration::ZERO, Some(&memory)).await,
        Err(SignError::Refused(Refusal::Forgotten {
            tree: 65,
            remembered: 60
        }))
    ));
    assert!(matches!(
        health(&pool, key.verifier(), Some(&memory), None)
            .await
            .unwrap(),
        CheckpointHealth::Refused(Refusal::Forgotten { .. })
    ));
    // Without the memory the database alone looks sound: why it is kept outside.
    assert!(sign_once(&writer, &key, Duration::ZERO, None).await.is_ok());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = checkpoints::verify_all;
}

// --- The server's role holds exactly what the README lists --------------------------------

/// Every privilege `trailkeep_writer` holds on a table or function of the schema, compared
/// with the README's list ("What each role may do").
#[sqlx::test(migrations = "../migrations")]
async fn the_server_role_holds_exactly_the_privileges_the_readme_lists(pool: PgPool) {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         CROSS JOIN LATERAL aclexplode(c.relacl) a \
         WHERE n.nspname = 'public' AND a.grantee = 'trailkeep_writer'::regrole \
         GROUP BY c.relname ORDER BY c.relname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let functions: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'public' AND p.prosecdef AND p.prorettype <> 'trigger'::regtype \
         AND has_function_privilege('trailkeep_writer', p.oid, 'EXECUTE') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut actual: Vec<String> = tables
        .iter()
        .map(|(t, p)| format!("{t}: {p}"))
        .chain(functions.iter().map(|f| format!("{f}(): EXECUTE")))
        .collect();
    actual.sort();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let block = readme
        .split("<!-- writer privileges -->")
        .nth(1)
        .expect("the README lists the writer's privileges between two markers");
    let mut listed: Vec<String> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- `"))
        .map(|l| l.trim_end_matches('`').replace("`", ""))
        .collect();
    listed.sort();
    assert_eq!(
        actual, listed,
        "the README's list of the writer's privileges"
    );
}

/// `trailkeep migrate --owner`: the tables and functions go to a role nobody logs in as, and
/// the server's role still appends, grows the tree and signs through the owner's functions.
#[sqlx::test(migrations = "../migrations")]
async fn the_log_can_belong_to_a_role_nobody_logs_in_as(pool: PgPool) {
    storage::hand_over(&pool, "trailkeep_owner").await.unwrap();
    let owners: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT tableowner::text FROM pg_tables WHERE schemaname = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(owners, ["trailkeep_owner"]);
    let login: bool =
        sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'trailkeep_owner'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!login);
    assert!(storage::hand_over(&pool, "Robert'); DROP").await.is_err());
    let writer = common::writer_pool(&pool).await;
    append(&writer, 20).await;
    assert_eq!(integrate(&writer).await.unwrap(), 20);
    assert_eq!(
        sign_once(&writer, &key(), Duration::ZERO, None)
            .await
            .unwrap(),
        Signed::New(20)
    );
    // Partitions made later belong to the owner too, and the writer holds nothing on any.
    assert_eq!(storage::partitions::make(&writer, 5).await.unwrap(), 3);
    let partitions: Vec<(String, bool)> = sqlx::query_as(
        "SELECT DISTINCT tableowner::text, \
         has_table_privilege('trailkeep_writer', ('public.' || tablename)::regclass, \
                             'SELECT, INSERT, UPDATE, DELETE, TRUNCATE') \
         FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'audit\\_entries\\_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(partitions, [("trailkeep_owner".to_string(), false)]);
}

// --- Origins ------------------------------------------------------------------------------

async fn sign_in(app: &axum::Router, pool: &PgPool, email: &str, role: app::model::Role) -> String {
    trailkeep::service::accounts::create_user(
        pool,
        email,
        "Someone",
        role,
        "correct horse battery",
        &trailkeep::service::accounts::Acting::cli(),
    )
    .await
    .unwrap();
    let login = common::send(
        app,
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "trailkeep.test")
            .header("origin", "http://trailkeep.test")
            .body(Body::from(format!(
                "email={}&password=correct+horse+battery&next=%2Faudit",
                email.replace('@', "%40")
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(login.status, 303, "{}", login.text);
    login.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// A page on another site riding the console's cookie: a `text/plain` POST to a server
/// function, an export link, a sign-in from another scheme, each refused before any work; a
/// member calling a data server function gets 403, not 500.
#[sqlx::test(migrations = "../migrations")]
async fn cross_site_requests_are_refused_and_a_member_gets_403(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    let app = common::router(&pool).await;
    let admin = sign_in(&app, &pool, "ada@example.com", app::model::Role::Admin).await;
    let call = |cookie: &str, content_type: &str, extra: &[(&str, &str)]| {
        let mut b = Request::post(app::api::SearchEntries::PATH)
            .header("content-type", content_type)
            .header("host", "trailkeep.test")
            .header("cookie", cookie);
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        b.body(Body::from(r#"{"filter":"","cursor":null}"#))
            .unwrap()
    };
    let json = "application/json";
    let ours = [("origin", "http://trailkeep.test")];
    assert_eq!(
        common::send(&app, call(&admin, json, &ours)).await.status,
        200
    );
    for (content_type, extra, status) in [
        ("text/plain", vec![("origin", "http://evil.test")], 403),
        (json, vec![("origin", "http://evil.test")], 403),
        (json, vec![("origin", "https://trailkeep.test")], 403),
        (json, vec![("origin", "http://trailkeep.test:8080")], 403),
        (json, vec![("sec-fetch-site", "cross-site")], 403),
        (json, vec![("sec-fetch-site", "same-site")], 403),
        ("text/plain", vec![("origin", "http://trailkeep.test")], 415),
        ("text/plain", vec![], 415),
    ] {
        let r = common::send(&app, call(&admin, content_type, &extra)).await;
        assert_eq!(r.status, status, "{content_type} {extra:?}: {}", r.text);
    }
    // An export opened from another site records nothing.
    let before = entries::count_all(&pool).await.unwrap();
    let r = common::send(
        &app,
        Request::get("/api/v1/events/export?format=csv")
            .header("host", "trailkeep.test")
            .header("origin", "http://evil.test")
            .header("cookie", &admin)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(entries::count_all(&pool).await.unwrap(), before);
    // Sign-in posted from the same host under another scheme.
    let r = common::send(
        &app,
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "trailkeep.test")
            .header("origin", "https://trailkeep.test")
            .body(Body::from(
                "email=ada%40example.com&password=x&next=%2Faudit",
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // A member may sign in, but not read the log.
    let member = sign_in(&app, &pool, "mo@example.com", app::model::Role::Member).await;
    let r = common::send(&app, call(&member, json, &ours)).await;
    assert_eq!(r.status, 403, "{}", r.text);
}

/// "Imported history" instead of the late-record warning is decided by the source key's
/// `import` scope (an admin's choice when the key is made), never by the event: an ingest key
/// whose late event claims, in every field it writes, to be an import is still warned of; an
/// import key reads nothing; and no one adds the scope to an existing key afterwards.
#[sqlx::test(migrations = "../migrations")]
async fn only_an_import_keys_scope_makes_a_late_entry_read_as_history(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    let app = common::router(&pool).await;
    let import = common::key(&pool, &[Scope::Import]).await;
    let ingest = common::key(&pool, &[Scope::Ingest]).await;
    let late = |actor_type: &str, details: Value| {
        json!({"action": "config.updated", "actor": {"id": "u_1", "type": actor_type},
               "occurred_at": "2026-01-05T10:00:00Z", "details": details})
    };
    let mut ids = Vec::new();
    for (k, event) in [
        (&import, late("user", json!({}))),
        (
            &ingest,
            late(
                "system",
                json!({"imported": true, "import": "history", "source": "import"}),
            ),
        ),
    ] {
        let r = common::send(&app, common::post_json(Some(k), event.to_string())).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["entries"][0]["id"].as_str().unwrap().to_string());
    }
    // The server's role writing an import key of its own (no `key.created` in the log) and a
    // late entry through it: still warned of.
    let writer = common::writer_pool(&pool).await;
    let forged = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, created_by) \
         VALUES ($1, 'quiet', 'tk_forged', $2, ARRAY['import'], 'nobody')",
    )
    .bind(forged)
    .bind(vec![7u8; 32])
    .execute(&writer)
    .await
    .unwrap();
    let event = parse_batch(&late("user", json!({}))).unwrap();
    let appended = entries::append(&writer, Source::Key(forged), event)
        .await
        .unwrap();
    ids.push(appended[0].id.to_string());
    // The import key sends; it reads nothing.
    let r = common::send(
        &app,
        Request::get("/api/v1/events")
            .header("authorization", format!("Bearer {import}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // The detail panel's answer, as the console asks for it.
    let admin = sign_in(&app, &pool, "ada@example.com", app::model::Role::Admin).await;
    let mut said = Vec::new();
    for id in &ids {
        let r = common::send(
            &app,
            Request::post(app::api::GetEntry::PATH)
                .header("content-type", "application/json")
                .header("host", "trailkeep.test")
                .header("origin", "http://trailkeep.test")
                .header("cookie", &admin)
                .body(Body::from(json!({ "id": id }).to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let view: app::model::EntryView = serde_json::from_value(r.body.clone()).unwrap();
        assert!(
            view.recorded_late_seconds.is_some_and(|s| s > 0),
            "{view:?}"
        );
        said.push(view.late_as_imported());
    }
    assert_eq!(said, [true, false, false]);
    // A key's scopes are its own for good: the server's role adding `import` later is refused.
    let refused = sqlx::query(
        "UPDATE api_keys SET scopes = ARRAY['ingest', 'import'] WHERE 'ingest' = ANY(scopes)",
    )
    .execute(&writer)
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("never change"), "{refused}");
}

// --- Sign-in that an outsider cannot lock -------------------------------------------------

mod sign_in {
    use super::*;
    use trailkeep::service::accounts::{self, Acting, SignIn, SignInLimits};

    const PASSWORD: &str = "correct horse battery";

    async fn user(pool: &PgPool, email: &str) {
        accounts::create_user(
            pool,
            email,
            "Someone",
            app::model::Role::Admin,
            PASSWORD,
            &Acting::cli(),
        )
        .await
        .unwrap();
    }

    async fn victim(pool: &PgPool) {
        user(pool, "victim@company.com").await;
    }

    /// None of `spellings` signs in from `from` with the right password.
    async fn none_signs_in(pool: &PgPool, spellings: &[&str], from: &str) {
        for spelling in spellings {
            let o = attempt(pool, spelling, PASSWORD, from, SignInLimits::default()).await;
            assert!(!matches!(o, SignIn::Ok { .. }), "{spelling}");
        }
    }

    async fn attempt(
        pool: &PgPool,
        email: &str,
        password: &str,
        from: &str,
        limits: SignInLimits,
    ) -> SignIn {
        accounts::sign_in(
            pool,
            email,
            password,
            Some(from.parse().unwrap()),
            None,
            limits,
        )
        .await
        .unwrap()
    }

    async fn lock_from(pool: &PgPool, from: &str) {
        for i in 0..5 {
            let o = attempt(
                pool,
                "victim@company.com",
                &format!("guess {i}"),
                from,
                SignInLimits::default(),
            )
            .await;
            assert!(matches!(o, SignIn::BadCredentials { .. }));
        }
        let o = attempt(
            pool,
            "victim@company.com",
            PASSWORD,
            from,
            SignInLimits::default(),
        )
        .await;
        assert!(matches!(o, SignIn::LockedOut));
    }

    /// `ß` is not `ss` to PostgreSQL's lower(): `STRAßE@…` reaches no account, so it counts
    /// apart and signs nobody in; the account itself stays locked for the address.
    #[sqlx::test(migrations = "../migrations")]
    async fn sharp_s_is_not_a_way_around_a_lockout(pool: PgPool) {
        user(&pool, "strasse@company.com").await;
        for i in 0..5 {
            let o = attempt(
                &pool,
                "strasse@company.com",
                &format!("g{i}"),
                "198.51.100.8",
                SignInLimits::default(),
            )
            .await;
            assert!(matches!(o, SignIn::BadCredentials { .. }));
        }
        let spellings = [
            "STRAßE@company.com",
            "straße@company.com",
            "STRASSE@company.com",
        ];
        none_signs_in(&pool, &spellings, "198.51.100.8").await;
    }

    /// After the account is locked for an address, its address spelled with U+0130 (which
    /// PostgreSQL's lower() may fold to `i`), upper case or full-width letters opens nothing.
    #[sqlx::test(migrations = "../migrations")]
    async fn another_spelling_of_the_address_does_not_escape_the_lockout(pool: PgPool) {
        victim(&pool).await;
        lock_from(&pool, "198.51.100.7").await;
        let spellings = [
            "v\u{130}ctim@company.com",
            "VICTIM@company.com",
            "ｖictim@company.com",
            "victim@company.com ",
        ];
        none_signs_in(&pool, &spellings, "198.51.100.7").await;
    }

    /// An attacker at one address (or anywhere in its IPv6 /64) cannot keep the owner at
    /// another out; `trailkeep user unlock` lets the locked address in again.
    #[sqlx::test(migrations = "../migrations")]
    async fn an_attacker_elsewhere_cannot_keep_the_owner_out(pool: PgPool) {
        victim(&pool).await;
        lock_from(&pool, "2001:db8:1:2::1").await;
        // Rotating inside the /64 gains nothing.
        let o = attempt(
            &pool,
            "victim@company.com",
            "again",
            "2001:db8:1:2:ffff::9",
            SignInLimits::default(),
        )
        .await;
        assert!(matches!(o, SignIn::LockedOut));
        let o = attempt(
            &pool,
            "victim@company.com",
            PASSWORD,
            "203.0.113.5",
            SignInLimits::default(),
        )
        .await;
        assert!(matches!(o, SignIn::Ok { .. }));
        assert_eq!(
            accounts::unlock(&pool, "VICTIM@company.com", &Acting::cli())
                .await
                .unwrap(),
            7
        );
        let o = attempt(
            &pool,
            "victim@company.com",
            PASSWORD,
            "2001:db8:1:2::1",
            SignInLimits::default(),
        )
        .await;
        assert!(matches!(o, SignIn::Ok { .. }));
        let unlocked: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE action = 'user.unlocked'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(unlocked, 1);
    }

    /// Refused sign-ins from one address block do not grow the log one entry each: the first
    /// of a minute is an entry, the rest are summarised after their minute, counted.
    #[sqlx::test(migrations = "../migrations")]
    async fn refused_sign_ins_from_one_block_are_summarised(pool: PgPool) {
        victim(&pool).await;
        let logged = |pool: PgPool| async move {
            sqlx::query_as::<_, (i64, Option<i64>)>(
                "SELECT count(*), sum((details->'summary'->>'attempts')::bigint)::bigint FROM audit_entries \
                 WHERE action = 'user.login_failed'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        };
        for i in 0..20 {
            let from = format!("2001:db8:7:7::{:x}", i + 1);
            let email = format!("guess{i}@company.com");
            let o = attempt(&pool, &email, "nope", &from, SignInLimits::default()).await;
            assert!(matches!(o, SignIn::BadCredentials { .. }));
        }
        let (entries_now, _) = logged(pool.clone()).await;
        assert!((1..=2).contains(&entries_now), "{entries_now}");
        // Their minute over (moved back, as the owner), the summariser records the rest.
        sqlx::query("UPDATE sign_in_attempts SET at = at - interval '2 minutes'")
            .execute(&pool)
            .await
            .unwrap();
        let writer = common::writer_pool(&pool).await;
        let appended = accounts::summarise_sign_ins(&writer).await.unwrap();
        assert!((1..=2).contains(&appended), "{appended}");
        let (entries_then, summarised) = logged(pool.clone()).await;
        assert_eq!(entries_then, entries_now + appended as i64);
        assert_eq!(entries_now + summarised.unwrap_or(0), 20);
        // Nothing is summarised twice.
        assert_eq!(accounts::summarise_sign_ins(&writer).await.unwrap(), 0);
        let block: String = sqlx::query_scalar(
            "SELECT details->'summary'->>'block' FROM audit_entries \
             WHERE details ? 'summary' LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(block, "2001:db8:7:7::/64");
    }

    /// Guessers queued on one account hold nothing while they wait: another account signs in
    /// before any of them is answered (their turn is `SLOW_SPACING` after the last check), and
    /// of many guesses at the same turn, one is checked. How long the other sign-in takes is a
    /// benchmark (`trailkeep-bench sign-in`), not a test.
    #[sqlx::test(migrations = "../migrations")]
    async fn guessing_one_account_slows_no_one_else(pool: PgPool) {
        victim(&pool).await;
        user(&pool, "other@company.com").await;
        let limits = SignInLimits {
            slow_after: 2,
            ..SignInLimits::default()
        };
        for i in 0..2 {
            let o = attempt(
                &pool,
                "victim@company.com",
                "guess",
                &format!("2001:db8:{i}::1"),
                limits,
            )
            .await;
            assert!(matches!(o, SignIn::BadCredentials { .. }));
        }
        let guesses: Vec<_> = (0..8)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    attempt(
                        &pool,
                        "victim@company.com",
                        "guess",
                        &format!("2001:db8:9{i}::1"),
                        limits,
                    )
                    .await
                })
            })
            .collect();
        // A head start for the guesses to reach their wait: where they wait holds nothing,
        // so nothing shows that they are there (this pause is not what the test measures).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let o = attempt(&pool, "other@company.com", PASSWORD, "192.0.2.9", limits).await;
        assert!(matches!(o, SignIn::Ok { .. }));
        assert!(
            guesses.iter().all(|g| !g.is_finished()),
            "another account's sign-in waited for the guessers' turn"
        );
        let mut checked = 0;
        for g in guesses {
            match g.await.unwrap() {
                SignIn::BadCredentials { .. } => checked += 1,
                SignIn::Throttled => {}
                _ => panic!("a guess got in"),
            }
        }
        assert!(
            (1..=2).contains(&checked),
            "{checked} guesses were checked at one turn"
        );
    }

    /// Guesses from ever new addresses are spaced once the account has failed `slow_after`
    /// times, so the guesses per account stay bounded; the right password still gets in.
    #[sqlx::test(migrations = "../migrations")]
    async fn the_guess_budget_per_account_is_bounded_whatever_the_addresses(pool: PgPool) {
        victim(&pool).await;
        let limits = SignInLimits {
            slow_after: 2,
            ..SignInLimits::default()
        };
        let started = std::time::Instant::now();
        for i in 0..5 {
            let o = attempt(
                &pool,
                "victim@company.com",
                "guess",
                &format!("2001:db8:{i}::1"),
                limits,
            )
            .await;
            assert!(matches!(o, SignIn::BadCredentials { .. }));
        }
        // Attempts 3, 4 and 5 waited for the spacing after the one before.
        let spacing = accounts::SLOW_SPACING;
        assert!(
            started.elapsed() >= spacing * 3 - Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        let o = attempt(&pool, "victim@company.com", PASSWORD, "192.0.2.1", limits).await;
        assert!(matches!(o, SignIn::Ok { .. }));
    }
}

// --- Bounded by clients -------------------------------------------------------------------

/// An ingest key is held to its rate limit and daily quota (429 with Retry-After; nothing of
/// a refused batch is stored); another key is not affected.
#[sqlx::test(migrations = "../migrations")]
async fn an_ingest_key_is_held_to_its_rate_limit_and_daily_quota(pool: PgPool) {
    use trailkeep::{infra::config::Config, service::ingest::IngestLimits};
    let config = |per_minute, per_day| Config {
        ingest: IngestLimits {
            per_minute,
            per_day,
        },
        ..Config::default()
    };
    let batch = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| json!({"action": "doc.viewed", "actor": {"id": format!("u{i}")}}))
                .collect(),
        )
    };
    let app = common::router_with(&pool, None, config(5, 1000)).await;
    let k = common::key(&pool, &[Scope::Ingest]).await;
    assert_eq!(post(&app, &k, &batch(3)).await.status, 201);
    let before = entries::count_all(&pool).await.unwrap();
    let r = post(&app, &k, &batch(3)).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let retry: u32 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("5 events per minute"));
    assert_eq!(entries::count_all(&pool).await.unwrap(), before);
    assert_eq!(post(&app, &k, &batch(2)).await.status, 201);
    let other = common::key(&pool, &[Scope::Ingest]).await;
    assert_eq!(post(&app, &other, &batch(5)).await.status, 201);

    // The day's quota, across processes: another router on the same database sees the count.
    let app = common::router_with(&pool, None, config(1000, 8)).await;
    let r = post(&app, &k, &batch(4)).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let retry: u32 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    assert!(r.body["error"].as_str().unwrap().contains("per day"));
    assert_eq!(post(&app, &k, &batch(3)).await.status, 201);
}

/// Readers that open exports and read nothing do not hold the places for long: below the
/// floor, an export is dropped, its place freed and it is recorded as not completed.
#[sqlx::test(migrations = "../migrations")]
async fn exports_whose_clients_read_nothing_are_dropped(pool: PgPool) {
    use tokio::io::AsyncWriteExt;
    use trailkeep::{infra::config::Config, service::export::ExportFloor};
    for _ in 0..30 {
        let batch: Vec<_> = (0..1000)
            .map(|i| json!({"action": "doc.viewed", "actor": {"id": format!("u{i}"), "name": "A reader of many documents"},
                            "details": {"padding": "x".repeat(400)}}))
            .collect();
        entries::append(
            &pool,
            Source::Trailkeep,
            parse_batch(&json!(batch)).unwrap(),
        )
        .await
        .unwrap();
    }
    let config = Config {
        export_floor: ExportFloor {
            bytes_per_second: 64 * 1024,
            window: Duration::from_secs(1),
        },
        ..Config::default()
    };
    let addr = common::serve_router(common::router_with(&pool, None, config).await).await;
    let k = common::key(&pool, &[Scope::Read]).await;
    let request = format!(
        "GET /api/v1/events/export?format=ndjson HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {k}\r\n\r\n"
    );
    let mut idle = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        idle.push(s); // never read past the status line
    }
    // Each has taken its place once its response has begun (else a probe below could take a
    // place first, and the later idle export would be the one refused).
    for s in idle.iter_mut() {
        let mut head = vec![0u8; 12];
        tokio::io::AsyncReadExt::read_exact(s, &mut head)
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&head), "HTTP/1.1 200");
    }
    let k = &k;
    let status = |addr| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET /api/v1/events/export?format=csv&action=none.here HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {k}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut head = vec![0u8; 12];
        tokio::io::AsyncReadExt::read_exact(&mut s, &mut head)
            .await
            .unwrap();
        String::from_utf8_lossy(&head[9..12]).to_string()
    };
    // Both places are held once the idle exports have started: polled, not slept.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while status(addr).await != "429" {
        assert!(std::time::Instant::now() < deadline, "both places are held");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Then the floor drops them, and the places are freed.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while status(addr).await != "200" {
        assert!(
            std::time::Instant::now() < deadline,
            "the places were never freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And each dropped export is recorded as not completed (awaited: its record commits as
    // the export ends, beside the place being freed).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let dropped: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_entries WHERE action = 'export.downloaded' \
             AND details->>'completed' = 'false'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if dropped >= 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no dropped export was recorded as not completed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(idle);
}
