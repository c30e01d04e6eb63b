//! The log partitioned by month (migrations/0030_monthly_partitions.sql) on real PostgreSQL:
//! the conversion of a log written by the previous release keeps every hash, id and proof;
//! the server's role can neither write a partition directly nor make or empty one; every
//! partition generates its columns and refuses TRUNCATE; a month boundary crossed while
//! appending keeps one gapless chain; `/readyz` fails when next month has no partition.

mod common;

use std::borrow::Cow;
use std::time::Duration;

use app::model::Source;
use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Datelike, Utc};
use sqlx::{migrate::Migrator, PgPool, Row};
use trailkeep::domain::integrity::checkpoint::SigningKey;
use trailkeep::service::{chain, checkpoints, tree};
use trailkeep::storage::{self, entries, partitions};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// What must survive the conversion, row by row.
type RowFacts = (
    i64,
    uuid::Uuid,
    DateTime<Utc>,
    Vec<u8>,
    Vec<u8>,
    String,
    String,
    Option<uuid::Uuid>,
);

async fn facts(pool: &PgPool) -> Vec<RowFacts> {
    sqlx::query_as(
        "SELECT seq, id, recorded_at, leaf_hash, chain_hash, category, search_text, source_key \
         FROM audit_entries ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The partitions of the log and how many entries each holds, oldest first.
async fn partition_counts(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT c.relname::text, (SELECT count(*) FROM audit_entries e WHERE e.tableoid = c.oid) \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_entries'::regclass ORDER BY c.relname",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Appends `n` entries recorded at `at` (later than the clock), as the previous tests do: the
/// owner moves the chain head's `last_recorded_at`, the append takes the later of it and now.
async fn record_at(owner: &PgPool, writer: &PgPool, at: &str, events: Vec<serde_json::Value>) {
    sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
        .bind(utc(at))
        .execute(owner)
        .await
        .unwrap();
    append(writer, events).await.unwrap();
}

/// Appends `events` (JSON as the API takes it) through the append path.
async fn append(
    writer: &PgPool,
    events: Vec<serde_json::Value>,
) -> Result<Vec<entries::Appended>, entries::AppendError> {
    let batch =
        trailkeep::domain::entry::event::parse_batch(&serde_json::Value::Array(events)).unwrap();
    entries::append(writer, Source::Trailkeep, batch).await
}

fn event(id: Option<&str>, action: &str, i: usize) -> serde_json::Value {
    let mut e = serde_json::json!({
        "action": action,
        "actor": {"id": format!("u{}", i % 5), "name": "Grace Hopper"},
        "resource": {"type": "document", "id": format!("doc-{i}")},
        "ip": "192.0.2.7",
        "details": {"i": i, "note": "changed region"},
    });
    if let Some(id) = id {
        e["id"] = serde_json::json!(id);
    }
    e
}

/// A log written by the release before partitions (every migration before 0030) across four
/// months with the tree grown and a checkpoint signed, then migrated: every row keeps its seq,
/// id, recorded_at and hashes and lands in its month's partition; the chain, the tree and the
/// checkpoint verify; an old client id is still recognised as a retry (and a changed one as a
/// conflict); appends carry on from the same head and the new checkpoint extends the old one.
#[sqlx::test(migrations = false)]
async fn converting_a_populated_log_keeps_every_hash_and_guarantee(pool: PgPool) {
    let before = Migrator {
        migrations: Cow::Owned(
            storage::MIGRATOR
                .iter()
                .filter(|m| m.version < 30)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    // This binary looks client ids up in entry_ids; the previous release read them from the
    // log itself. A view gives the same answer on the old schema while it is populated.
    // Nor had it archived months (0031), which this binary's checks look up: none.
    for sql in [
        "CREATE VIEW entry_ids AS SELECT id, seq FROM audit_entries",
        "GRANT SELECT ON entry_ids TO trailkeep_writer",
        "CREATE VIEW archived_months AS SELECT NULL::timestamptz AS month, \
         NULL::timestamptz AS month_end, NULL::bigint AS first_seq, NULL::bigint AS end_seq, \
         NULL::bytea AS chain_hash_before, NULL::bytea AS chain_hash_after, NULL::uuid AS run_id, \
         NULL::text AS destination, NULL::text AS location, NULL::text AS object_version, \
         NULL::bigint AS bytes, NULL::bytea AS sha256, NULL::timestamptz AS occurred_from, \
         NULL::timestamptz AS occurred_to, NULL::timestamptz AS dropped_at WHERE false",
        "GRANT SELECT ON archived_months TO trailkeep_writer",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let writer = common::writer_pool(&pool).await;
    let retried = "0b7e2d4c-5f7a-4d7e-9c55-0a1b2c3d4e5f";
    append(
        &writer,
        vec![
            event(Some(retried), "document.viewed", 0),
            event(None, "user.login", 1),
        ],
    )
    .await
    .unwrap();
    for (month, at) in [
        "2027-01-15T10:00:00Z",
        "2027-02-28T23:59:59Z",
        "2027-03-01T00:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        record_at(
            &pool,
            &writer,
            at,
            (0..7)
                .map(|i| event(None, "config.changed", month * 7 + i))
                .collect(),
        )
        .await;
    }
    let key = SigningKey::generate("trailkeep.test/log", &mut rand_core::OsRng).unwrap();
    tree::integrate(&writer).await.unwrap();
    checkpoints::sign_once(&writer, &key, Duration::ZERO, None)
        .await
        .unwrap();
    let saved = storage::checkpoints::latest(&writer)
        .await
        .unwrap()
        .unwrap()
        .note;
    let rows_before = facts(&pool).await;
    let rollups_before = common::rollup_totals(&pool).await;
    let head_before = entries::chain_head(&pool).await.unwrap();

    for view in ["entry_ids", "archived_months"] {
        sqlx::query(&format!("DROP VIEW {view}"))
            .execute(&pool)
            .await
            .unwrap();
    }
    storage::migrate(&pool).await.unwrap();

    assert_eq!(facts(&pool).await, rows_before, "every row as it was");
    assert_eq!(common::rollup_totals(&pool).await, rollups_before);
    assert_eq!(entries::chain_head(&pool).await.unwrap(), head_before);
    let now_month = partitions::months_ahead(&pool).await.unwrap();
    assert!(now_month >= 2, "two months ahead at least: {now_month}");
    let counts = partition_counts(&pool).await;
    let held: Vec<(&str, i64)> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| (name.as_str(), *n))
        .collect();
    let this_month = format!("audit_entries_{}", Utc::now().format("%Ym%m"));
    assert_eq!(
        held,
        [
            (this_month.as_str(), 2),
            ("audit_entries_2027m01", 7),
            ("audit_entries_2027m02", 7),
            ("audit_entries_2027m03", 7)
        ],
        "each entry in its month's partition: {counts:?}"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM entry_ids")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 23);

    // The chain, the tree and the saved checkpoint (as `trailkeep verify --checkpoint`).
    assert_eq!(chain::verify(&pool).await.unwrap(), Ok(23));
    assert!(matches!(
        tree::verify(&pool).await.unwrap(),
        tree::TreeVerdict::Ok { size: 23, .. }
    ));
    assert!(
        checkpoints::verify_saved(&writer, key.verifier(), saved.as_bytes())
            .await
            .unwrap()
            .is_ok()
    );

    // Idempotency by id across partitions: a retry is acknowledged with its first seq; the
    // same id with other content is a conflict; nothing is appended by either.
    let acks = append(&writer, vec![event(Some(retried), "document.viewed", 0)])
        .await
        .unwrap();
    assert_eq!(acks[0].seq, 0);
    let conflict = append(&writer, vec![event(Some(retried), "document.deleted", 0)]).await;
    assert!(
        matches!(conflict, Err(entries::AppendError::Conflict { .. })),
        "{conflict:?}"
    );
    // The database refuses a repeated id itself, whoever inserts it.
    let (next, head): (i64, Vec<u8>) = entries::chain_head(&pool).await.unwrap();
    let leaf = [7u8; 32].to_vec();
    let chain = {
        use sha2::Digest;
        sha2::Sha256::digest([head.as_slice(), &leaf].concat()).to_vec()
    };
    let refused = sqlx::query(
        "INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, \
         action, status, leaf_hash, chain_hash, form, source) \
         VALUES ($1, $2, now(), (SELECT last_recorded_at FROM chain_head), 'user', 'u', 'a.b', \
         'success', $3, $4, 2, 'trailkeep')",
    )
    .bind(next)
    .bind(uuid::Uuid::parse_str(retried).unwrap())
    .bind(&leaf)
    .bind(&chain)
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("entry_ids_pkey"), "{refused}");
    assert_eq!(entries::count_all(&pool).await.unwrap(), 23);

    // Appends carry on from the same head, in the month of the clock-or-later.
    record_at(
        &pool,
        &writer,
        "2027-03-05T00:00:00Z",
        (0..3).map(|i| event(None, "user.logout", i)).collect(),
    )
    .await;
    assert_eq!(chain::verify(&pool).await.unwrap(), Ok(26));
    tree::integrate(&writer).await.unwrap();
    checkpoints::sign_once(&writer, &key, Duration::ZERO, None)
        .await
        .unwrap();
    assert_eq!(
        checkpoints::verify_all(&writer, key.verifier())
            .await
            .unwrap(),
        Ok(2),
        "both checkpoints, the one signed before the conversion and the one after"
    );
    assert!(
        checkpoints::verify_saved(&writer, key.verifier(), saved.as_bytes())
            .await
            .unwrap()
            .is_ok()
    );
    // Lookups by id (the entry panel) go through entry_ids.
    let page = storage::query::pages::by_id(&writer, uuid::Uuid::parse_str(retried).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.seq, 0);
}

/// What the server's role, and the owner, can do to a partition: the writer cannot insert
/// into one (that would skip the chain trigger), read one, truncate one or make partitions of
/// its choosing; it can ask for the next months. The owner's TRUNCATE is refused on every
/// partition, old or new. Every partition generates its columns.
#[sqlx::test(migrations = "../migrations")]
async fn partitions_are_reached_only_through_the_log(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let this_month = format!("audit_entries_{}", Utc::now().format("%Ym%m"));
    for sql in [
        format!(
            "INSERT INTO {this_month} (seq, id, occurred_at, recorded_at, actor_type, actor_id, \
             action, status, leaf_hash, chain_hash, form, source) VALUES (0, gen_random_uuid(), \
             now(), now(), 'user', 'u', 'a.b', 'success', sha256('x'), sha256('y'), 2, \
             'trailkeep')"
        ),
        format!("SELECT count(*) FROM {this_month}"),
        format!("TRUNCATE {this_month}"),
        "SELECT audit_entries_add_partitions(now(), now() + interval '20 months')".into(),
        format!("ALTER TABLE audit_entries DETACH PARTITION {this_month}"),
        format!("DROP TABLE {this_month}"),
        // Holding what serialises the makers, or a table named like a month to come.
        "LOCK TABLE audit_partitions_lock IN ACCESS SHARE MODE".into(),
        "CREATE TABLE public.audit_entries_2099m01 (x int)".into(),
    ] {
        // In a transaction of its own (LOCK needs one).
        let mut tx = writer.begin().await.unwrap();
        let err = sqlx::query(&sql).execute(&mut *tx).await.unwrap_err();
        drop(tx);
        let text = err.to_string();
        assert!(
            text.contains("permission denied") || text.contains("must be owner"),
            "{sql}: {text}"
        );
    }
    assert_eq!(entries::count_all(&pool).await.unwrap(), 0);
    // Asking for more months is the writer's to do, within bounds (the database says which),
    // and the bounds are the months' whatever the session's DateStyle (German day.month read
    // back as MDY would give days of January).
    assert_eq!(partitions::make(&writer, 2).await.unwrap(), 0);
    let mut conn = writer.acquire().await.unwrap();
    sqlx::query("SET DateStyle = 'German, MDY'")
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(partitions::make(&mut *conn, 5).await.unwrap(), 3);
    drop(conn);
    let mut owner = pool.acquire().await.unwrap();
    for sql in ["SET DateStyle = 'ISO, YMD'", "SET TimeZone = 'UTC'"] {
        sqlx::query(sql).execute(&mut *owner).await.unwrap();
    }
    let bounds: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_entries'::regclass ORDER BY 1",
    )
    .fetch_all(&mut *owner)
    .await
    .unwrap();
    drop(owner);
    for (name, bound) in &bounds {
        let (y, m): (i32, u32) = (name[14..18].parse().unwrap(), name[19..21].parse().unwrap());
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        assert_eq!(
            bound,
            &format!(
                "FOR VALUES FROM ('{y}-{m:02}-01 00:00:00+00') TO ('{ny}-{nm:02}-01 00:00:00+00')"
            ),
            "{name}"
        );
    }
    let err = partitions::make(&writer, 25).await.unwrap_err();
    assert!(err.to_string().contains("1 to 24 months"), "{err}");
    assert_eq!(partitions::months_ahead(&writer).await.unwrap(), 5);

    // The owner cannot empty a partition either: each has its own BEFORE TRUNCATE.
    let names: Vec<String> = partition_counts(&pool)
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    for name in &names {
        let err = sqlx::query(&format!("TRUNCATE {name}"))
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{name}: {err}");
        let generated: Vec<String> = sqlx::query_scalar(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass \
             AND attgenerated = 's' ORDER BY attname",
        )
        .bind(name)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            generated,
            ["category", "search_text", "source_key"],
            "{name}"
        );
    }
    // Nor change or remove an entry in one (the row triggers are cloned to each partition).
    entries::append(&writer, Source::Trailkeep, common::events("doc.viewed", 2))
        .await
        .unwrap();
    for sql in [
        format!("UPDATE {this_month} SET actor_id = 'x'"),
        format!("DELETE FROM {this_month}"),
        "DELETE FROM entry_ids".to_string(),
        "TRUNCATE entry_ids".to_string(),
    ] {
        let err = sqlx::query(&sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(chain::verify(&pool).await.unwrap(), Ok(2));
}

/// Writers from several pools append while the clock crosses a month's end: every entry lands
/// in the partition of its month, seqs stay gapless and the chain verifies.
#[sqlx::test(migrations = "../migrations")]
async fn a_month_boundary_crossed_while_appending_keeps_one_gapless_chain(pool: PgPool) {
    sqlx::query("SELECT audit_entries_add_partitions(now(), '2027-03-01T00:00:00Z')")
        .execute(&pool)
        .await
        .unwrap();
    let writers = [
        common::writer_pool(&pool).await,
        common::writer_pool(&pool).await,
    ];
    sqlx::query("UPDATE chain_head SET last_recorded_at = '2027-01-31T23:59:59.99Z'")
        .execute(&pool)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for (w, writer) in writers.iter().enumerate() {
        for b in 0..6 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                let batch = common::events(&format!("doc.viewed_{w}_{b}"), 5);
                entries::append(&writer, Source::Trailkeep, batch)
                    .await
                    .unwrap();
            }));
        }
    }
    // The head moves into February while the batches queue on it.
    let owner = pool.clone();
    tasks.push(tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        sqlx::query(
            "UPDATE chain_head SET last_recorded_at = \
             greatest(last_recorded_at, '2027-02-01T00:00:00Z')",
        )
        .execute(&owner)
        .await
        .unwrap();
    }));
    for t in tasks {
        t.await.unwrap();
    }
    record_at(
        &pool,
        &writers[0],
        "2027-02-01T00:00:01Z",
        vec![event(None, "user.login", 0)],
    )
    .await;
    assert_eq!(chain::verify(&pool).await.unwrap(), Ok(61));
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM audit_entries ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(seqs, (0..61).collect::<Vec<_>>());
    let months: Vec<(i64, DateTime<Utc>, String)> = sqlx::query(
        "SELECT seq, recorded_at, tableoid::regclass::text FROM audit_entries ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    for window in months.windows(2) {
        assert!(window[0].1 <= window[1].1, "recorded_at never decreases");
    }
    for (seq, at, partition) in &months {
        let expected = format!("audit_entries_{}", at.format("%Ym%m"));
        assert_eq!(partition, &expected, "seq {seq} recorded at {at}");
    }
    assert_eq!(
        months.last().unwrap().2,
        "audit_entries_2027m02",
        "the last batch is February's"
    );
}

/// `/readyz` reads how far ahead the partitions reach: ready with two months, a 503 that says
/// so when next month's partition is missing (its appends would fail), ready again once the
/// keeper has run.
#[sqlx::test(migrations = "../migrations")]
async fn readiness_needs_next_months_partition(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let app = common::router_on(&writer).await;
    let r = common::send(&app, readyz()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["partitions"], "2 months ahead");
    // The owner takes next month's partition away (empty, so nothing is lost).
    let next = format!(
        "audit_entries_{}",
        (Utc::now().date_naive().with_day(1).unwrap() + chrono::Months::new(1)).format("%Ym%m")
    );
    for sql in [
        format!("ALTER TABLE audit_entries DETACH PARTITION {next}"),
        format!("DROP TABLE {next}"),
    ] {
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    let r = common::send(&app, readyz()).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.body["partitions"], "0 months ahead");
    assert_eq!(r.body["ready"], false);
    // An event recorded in that month is refused with a 503 that says why; nothing is stored.
    let key = common::key(&pool, &[trailkeep::domain::auth::Scope::Ingest]).await;
    let first_of_next = format!(
        "{}-01T00:00:00Z",
        &next["audit_entries_".len()..].replace('m', "-")
    );
    sqlx::query("UPDATE chain_head SET last_recorded_at = $1::timestamptz")
        .bind(&first_of_next)
        .execute(&pool)
        .await
        .unwrap();
    let before = entries::count_all(&pool).await.unwrap();
    let body = serde_json::json!({"action": "doc.viewed", "actor": {"id": "u1"}}).to_string();
    let r = common::send(&app, common::post_json(Some(&key), body.clone())).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("no partition for this month"),
        "{}",
        r.text
    );
    assert_eq!(entries::count_all(&pool).await.unwrap(), before);
    assert_eq!(
        trailkeep::service::partitions::keep_ahead(&writer)
            .await
            .unwrap(),
        1
    );
    let r = common::send(&app, readyz()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["partitions"], "2 months ahead");
    let r = common::send(&app, common::post_json(Some(&key), body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(entries::count_all(&pool).await.unwrap(), before + 1);
}

fn readyz() -> Request<Body> {
    Request::get("/readyz").body(Body::empty()).unwrap()
}

/// A table named like a month to come that is not a partition (only the owner can create one
/// now) is not taken for that month's partition: the keeper refuses, naming it, and `/readyz`
/// counts only real partitions.
#[sqlx::test(migrations = "../migrations")]
async fn a_table_named_like_a_partition_is_not_taken_for_one(pool: PgPool) {
    let writer = common::writer_pool(&pool).await;
    let third = format!(
        "audit_entries_{}",
        (Utc::now().date_naive().with_day(1).unwrap() + chrono::Months::new(3)).format("%Ym%m")
    );
    sqlx::query(&format!("CREATE TABLE public.{third} (x int)"))
        .execute(&pool)
        .await
        .unwrap();
    let err = partitions::make(&writer, 4).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("public.{third} exists but is not a partition")),
        "{err}"
    );
    assert_eq!(partitions::months_ahead(&writer).await.unwrap(), 2);
    sqlx::query(&format!("DROP TABLE public.{third}"))
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(partitions::make(&writer, 4).await.unwrap(), 2);
    assert_eq!(partitions::months_ahead(&writer).await.unwrap(), 4);
}
