//! Retention on real PostgreSQL and a real export directory: a month leaves the log only as a
//! whole partition, only after its monthly bundle was read back and verified, only through the
//! database's own function, and the drop is recorded in the log. Afterwards the chain, the
//! Merkle tree and a checkpoint signed before the drop still verify, appends and new bundles
//! carry on, and a period reaching into a dropped month is refused by name. Each refusal —
//! a month with no bundle, a tampered bundle, a filtered or partial run, a month the policy
//! keeps, a drop without its entry, and the server's role acting outside the function — is
//! tried here.
//!
//! The log's clock is moved as in `scheduled_exports.rs`: the owner moves the chain head's
//! `last_recorded_at` forward, and the database takes the later of it and the clock.

mod common;

use std::time::Duration;

use app::model::Source;
use chrono::Utc;
use sqlx::PgPool;
use trailkeep::service::accounts::Acting;
use trailkeep::service::retention::{self, Retained};
use trailkeep::service::scheduler::Outcome;
use trailkeep::service::{chain, checkpoints, schedules, tree};
use trailkeep::storage::{self, entries};
use uuid::Uuid;

use common::exports::{directory_spec, utc, World};

impl World {
    async fn schedule(&self, filter: &str, created: &str) -> Uuid {
        let spec = directory_spec("monthly", "UTC", filter, "bundle", "archive/monthly");
        self.create(&spec, created).await
    }

    /// The succeeded run of `schedule` for the month starting at `month`.
    async fn run_of(&self, schedule: Uuid, month: &str) -> (Uuid, Vec<u8>, String) {
        sqlx::query_as(
            "SELECT id, sha256, object_key FROM export_runs WHERE schedule_id = $1 \
             AND period_start = $2 AND status = 'succeeded' ORDER BY finished_at DESC LIMIT 1",
        )
        .bind(schedule)
        .bind(utc(month))
        .fetch_one(&self.owner)
        .await
        .unwrap()
    }

    async fn has_partition(&self, name: &str) -> bool {
        sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("public.{name}"))
            .fetch_one(&self.owner)
            .await
            .unwrap()
    }
}

fn succeeded(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Succeeded { .. }))
        .count()
}

/// January to April 2027 recorded, monthly bundles made for January to March.
async fn four_months(w: &World) -> Uuid {
    let schedule = w.schedule("", "2027-01-01T00:00:00Z").await;
    w.record_at("2027-01-10T00:00:00Z", 3).await;
    w.record_at("2027-02-10T00:00:00Z", 4).await;
    w.record_at("2027-03-10T00:00:00Z", 2).await;
    w.record_at("2027-04-02T00:00:00Z", 1).await;
    let outcomes = w
        .scheduler()
        .tick(utc("2027-04-02T00:05:00Z"))
        .await
        .unwrap();
    assert_eq!(succeeded(&outcomes), 3, "{outcomes:?}");
    schedule
}

#[sqlx::test(migrations = "../migrations")]
async fn a_month_leaves_only_archived_and_verified_and_everything_still_verifies(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = four_months(&w).await;
    tree::integrate(&w.writer).await.unwrap();
    checkpoints::sign_once(&w.writer, &w.key, Duration::ZERO, None)
        .await
        .unwrap();
    let saved = storage::checkpoints::latest(&w.writer)
        .await
        .unwrap()
        .unwrap()
        .note;
    let size_before = entries::count_all(&w.owner).await.unwrap();

    // No policy: nothing happens.
    let s = w.scheduler();
    assert_eq!(s.retain(utc("2027-04-02T01:00:00Z")).await.unwrap(), vec![]);

    retention::set_policy(&w.writer, Some((1, schedule)), &Acting::cli(), Utc::now())
        .await
        .unwrap();
    let outcomes = s.retain(utc("2027-04-02T01:00:00Z")).await.unwrap();
    // December 2026 (the schedules' own entries, recorded at the real clock) has no bundle
    // yet: one is asked for. January and February go; March and April are kept.
    assert!(
        matches!(outcomes[0], Retained::Requested { month, .. } if month == utc("2026-12-01T00:00:00Z")),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], Retained::Dropped { month, .. } if month == utc("2027-01-01T00:00:00Z"))
    );
    assert!(
        matches!(outcomes[2], Retained::Dropped { month, .. } if month == utc("2027-02-01T00:00:00Z"))
    );
    assert_eq!(outcomes.len(), 3);
    assert!(!w.has_partition("audit_entries_2027m01").await);
    assert!(!w.has_partition("audit_entries_2027m02").await);
    assert!(w.has_partition("audit_entries_2027m03").await);

    // What was recorded: the month, its seqs, the chain hashes around it, where and what.
    let archived = storage::retention::archived(&w.owner).await.unwrap();
    assert_eq!(archived.len(), 2);
    let (jan_run, jan_sha, jan_key) = w.run_of(schedule, "2027-01-01T00:00:00Z").await;
    assert_eq!(archived[0].run_id, jan_run);
    assert_eq!(archived[0].sha256, jan_sha);
    assert_eq!(archived[0].location, jan_key);
    assert_eq!(archived[0].end_seq - archived[0].first_seq, 3);
    assert_eq!(archived[1].end_seq - archived[1].first_seq, 4);
    assert_eq!(archived[0].end_seq, archived[1].first_seq);
    assert_eq!(archived[0].chain_hash_after, archived[1].chain_hash_before);
    let recorded: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT details FROM audit_entries WHERE action = 'retention.partition_dropped' \
         AND source = 'trailkeep' ORDER BY seq",
    )
    .fetch_all(&w.owner)
    .await
    .unwrap();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0]["month"], "2027-01");
    assert_eq!(recorded[0]["first_seq"], archived[0].first_seq);
    assert_eq!(recorded[0]["end_seq"], archived[0].end_seq);
    assert_eq!(recorded[0]["sha256"], app::integrity::to_hex(&jan_sha));
    assert_eq!(recorded[0]["location"], jan_key);
    assert_eq!(
        recorded[0]["chain_hash_before"],
        app::integrity::to_hex(&archived[0].chain_hash_before)
    );
    assert_eq!(
        recorded[0]["chain_hash_after"],
        app::integrity::to_hex(&archived[0].chain_hash_after)
    );
    assert_eq!(recorded[0]["verified"]["read_back_from_destination"], true);
    assert_eq!(recorded[0]["verified"]["entries_proven"], 3);

    // A listing over the whole log says which months are archived, and where; one over
    // March says nothing.
    let all = app::filter::Filter::parse("from=2020-01-01T00:00:00Z").unwrap();
    let page = storage::query::signed_page(&w.writer, b"k", &all, 500, None)
        .await
        .unwrap();
    assert_eq!(page.archived.len(), 2, "{:?}", page.archived);
    assert_eq!(page.archived[0].month, "2027-01");
    assert_eq!(page.archived[0].location, jan_key);
    assert_eq!(page.archived[0].sha256, app::integrity::to_hex(&jan_sha));
    assert!(page
        .entries
        .iter()
        .all(|e| e.seq < archived[0].first_seq || e.seq >= archived[1].end_seq));
    let march = app::filter::Filter::parse("from=2027-03-01T00:00:00Z").unwrap();
    let page = storage::query::signed_page(&w.writer, b"k", &march, 500, None)
        .await
        .unwrap();
    assert_eq!(page.archived, vec![]);

    // Counts count what is in the database; an export says what is archived, and where.
    let online: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries")
        .fetch_one(&w.owner)
        .await
        .unwrap();
    let everything = app::filter::Filter::default();
    assert!(everything.is_everything());
    assert_eq!(
        storage::query::count(&w.writer, &everything).await.unwrap(),
        online
    );
    let snapshot = storage::query::export_snapshot(&w.writer, &everything, None)
        .await
        .unwrap();
    assert_eq!(snapshot.count, online);
    assert_eq!(snapshot.archived.len(), 2);
    let words = trailkeep::domain::export::format::archived_words(
        &trailkeep::service::export::archived_parts(&snapshot),
    );
    assert!(words.starts_with("2027-01 (3 entries"), "{words}");
    assert!(words.contains(&jan_key), "{words}");

    // An id of a dropped entry is still known: appending it again is refused by name.
    let old_id: Uuid = sqlx::query_scalar("SELECT id FROM entry_ids WHERE seq = $1")
        .bind(archived[0].first_seq)
        .fetch_one(&w.owner)
        .await
        .unwrap();
    let again = trailkeep::domain::entry::event::parse_batch(&serde_json::json!(
        {"id": old_id, "action": "doc.viewed", "actor": {"id": "u0"}}
    ))
    .unwrap();
    let err = entries::append(&w.writer, Source::Trailkeep, again)
        .await
        .unwrap_err();
    assert!(
        matches!(err, entries::AppendError::Archived { seq, .. } if seq == archived[0].first_seq),
        "{err}"
    );

    // The chain crosses the dropped months by their anchors; the tree keeps its hashes; the
    // checkpoint signed before the drop still verifies, and so does every one signed since.
    let size = entries::count_all(&w.owner).await.unwrap();
    assert_eq!(
        size,
        size_before + 3,
        "two drops and the policy change recorded"
    );
    assert_eq!(chain::verify(&w.owner).await.unwrap(), Ok(size));
    tree::integrate(&w.writer).await.unwrap();
    assert!(matches!(
        tree::verify(&w.owner).await.unwrap(),
        tree::TreeVerdict::Ok { size: s, .. } if s == size as u64
    ));
    assert!(
        checkpoints::verify_saved(&w.writer, w.key.verifier(), saved.as_bytes())
            .await
            .unwrap()
            .is_ok()
    );
    checkpoints::sign_once(&w.writer, &w.key, Duration::ZERO, None)
        .await
        .unwrap();
    assert!(checkpoints::verify_all(&w.writer, w.key.verifier())
        .await
        .unwrap()
        .is_ok());

    // Appends go on; the December run asked for is made, and December goes too.
    w.record_at("2027-04-03T00:00:00Z", 2).await;
    let outcomes = s.tick(utc("2027-04-03T00:05:00Z")).await.unwrap();
    assert_eq!(succeeded(&outcomes), 1, "{outcomes:?}");
    let outcomes = s.retain(utc("2027-04-03T01:00:00Z")).await.unwrap();
    assert!(
        matches!(outcomes[..], [Retained::Dropped { month, .. }] if month == utc("2026-12-01T00:00:00Z")),
        "{outcomes:?}"
    );
    let size = entries::count_all(&w.owner).await.unwrap();
    assert_eq!(chain::verify(&w.owner).await.unwrap(), Ok(size));
    tree::integrate(&w.writer).await.unwrap();
    assert!(matches!(
        tree::verify(&w.owner).await.unwrap(),
        tree::TreeVerdict::Ok { .. }
    ));

    // A period reaching into a dropped month cannot be exported again from the database: the
    // refusal names the bundle that holds it, and is not retried.
    let feb = schedules::run_now(
        &w.writer,
        schedule,
        Some(trailkeep::domain::export::schedule::Period {
            start: utc("2027-02-01T00:00:00Z"),
            end: utc("2027-03-01T00:00:00Z"),
        }),
        &Acting::cli(),
        utc("2027-04-03T02:00:00Z"),
    )
    .await
    .unwrap();
    let outcomes = s.tick(utc("2027-04-03T02:00:00Z")).await.unwrap();
    let failed = outcomes
        .iter()
        .find_map(|o| match o {
            Outcome::Failed { run, retry, error } if *run == feb.id => Some((*retry, error)),
            _ => None,
        })
        .expect("the February run fails");
    assert!(!failed.0, "not retried");
    assert!(
        failed.1.contains("were archived to directory") && failed.1.contains("2027-02"),
        "{}",
        failed.1
    );
    // March is still exported as ever.
    let (_, _, mar_key) = w.run_of(schedule, "2027-03-01T00:00:00Z").await;
    assert!(w.root.join(mar_key).is_file());
}

#[sqlx::test(migrations = "../migrations")]
async fn retention_refuses_what_is_not_archived_verified_and_allowed(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = four_months(&w).await;
    let filtered = w
        .schedule("action=doc.viewed", "2027-01-01T00:00:00Z")
        .await;
    let outcomes = w
        .scheduler()
        .tick(utc("2027-04-02T00:06:00Z"))
        .await
        .unwrap();
    assert_eq!(succeeded(&outcomes), 3, "{outcomes:?}");

    // The policy names only an unfiltered monthly bundle schedule in UTC.
    let refused = retention::set_policy(&w.writer, Some((1, filtered)), &Acting::cli(), Utc::now())
        .await
        .unwrap_err();
    assert!(refused
        .to_string()
        .contains("not an unfiltered monthly archive bundle"));
    let refused = retention::set_policy(&w.writer, Some((0, schedule)), &Acting::cli(), Utc::now())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("1 to 1200 months"));
    retention::set_policy(&w.writer, Some((1, schedule)), &Acting::cli(), Utc::now())
        .await
        .unwrap();

    // A tampered bundle keeps its month: February's object is changed in place.
    let (feb_run, feb_sha, feb_key) = w.run_of(schedule, "2027-02-01T00:00:00Z").await;
    let feb_path = w.root.join(&feb_key);
    let mut bytes = std::fs::read(&feb_path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&feb_path, &bytes).unwrap();
    // January's object is gone altogether.
    let (jan_run, jan_sha, jan_key) = w.run_of(schedule, "2027-01-01T00:00:00Z").await;
    std::fs::remove_file(w.root.join(&jan_key)).unwrap();
    let outcomes = w
        .scheduler()
        .retain(utc("2027-04-02T01:00:00Z"))
        .await
        .unwrap();
    let kept = |m: &str| {
        outcomes.iter().find_map(|o| match o {
            Retained::Kept { month, reason } if *month == utc(m) => Some(reason.clone()),
            _ => None,
        })
    };
    let feb = kept("2027-02-01T00:00:00Z").expect("February stays");
    assert!(feb.contains("SHA-256"), "{feb}");
    let jan = kept("2027-01-01T00:00:00Z").expect("January stays");
    assert!(jan.contains("not in the export directory"), "{jan}");
    assert!(w.has_partition("audit_entries_2027m01").await);
    assert!(w.has_partition("audit_entries_2027m02").await);

    // The server's role calling the function itself: every wrong call is refused.
    let call = |run: Uuid, sha: Vec<u8>| {
        let writer = w.writer.clone();
        async move {
            let mut tx = writer.begin().await.unwrap();
            storage::retention::drop_month(&mut tx, run, &sha)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    let err = call(feb_run, vec![0; 32]).await.unwrap_err();
    assert!(err.contains("SHA-256 differs"), "{err}");
    let (filtered_feb, filtered_sha, _) = w.run_of(filtered, "2027-02-01T00:00:00Z").await;
    let err = call(filtered_feb, filtered_sha).await.unwrap_err();
    assert!(
        err.contains("not a finished unfiltered archive bundle"),
        "{err}"
    );
    let (mar_run, mar_sha, _) = w.run_of(schedule, "2027-03-01T00:00:00Z").await;
    let err = call(mar_run, mar_sha).await.unwrap_err();
    assert!(err.contains("retention policy keeps"), "{err}");
    let err = call(Uuid::new_v4(), vec![0; 32]).await.unwrap_err();
    assert!(err.contains("no export run"), "{err}");
    // A run whose seqs the server's role rewrote (one entry short) is not the month.
    sqlx::query(
        "UPDATE export_runs SET end_seq = end_seq - 1, entries = entries - 1 WHERE id = $1",
    )
    .bind(jan_run)
    .execute(&w.writer)
    .await
    .unwrap();
    let err = call(jan_run, jan_sha.clone()).await.unwrap_err();
    assert!(err.contains("not exactly the month"), "{err}");
    // A drop that the same transaction does not record is refused at commit.
    {
        let mut bytes = std::fs::read(&feb_path).unwrap();
        bytes[last] ^= 1;
        std::fs::write(&feb_path, &bytes).unwrap();
        let mut tx = w.writer.begin().await.unwrap();
        storage::retention::drop_month(&mut tx, feb_run, &feb_sha)
            .await
            .unwrap();
        let err = tx.commit().await.unwrap_err().to_string();
        assert!(
            err.contains("without a retention.partition_dropped entry"),
            "{err}"
        );
        assert!(w.has_partition("audit_entries_2027m02").await);
    }

    // Outside the function the server's role can neither drop, detach, delete nor forge.
    for sql in [
        "DROP TABLE audit_entries_2027m02",
        "ALTER TABLE audit_entries DETACH PARTITION audit_entries_2027m02",
        "DELETE FROM audit_entries WHERE recorded_at < '2027-03-01'",
        "TRUNCATE audit_entries_2027m02",
        "INSERT INTO archived_months SELECT * FROM archived_months",
        "DELETE FROM archived_months",
        "UPDATE retention_policy SET singleton = false",
    ] {
        let err = sqlx::query(sql).execute(&w.writer).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied")
                || err.to_string().contains("must be owner")
                || err.to_string().contains("violates check constraint"),
            "{sql}: {err}"
        );
    }
    // And February, now intact again, goes the proper way; the owner cannot rewrite or
    // delete what was recorded of it.
    let outcomes = w
        .scheduler()
        .retain(utc("2027-04-02T02:00:00Z"))
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Retained::Dropped { run, .. } if *run == feb_run)),
        "{outcomes:?}"
    );
    for sql in [
        "UPDATE archived_months SET location = 'elsewhere'",
        "DELETE FROM archived_months",
        "TRUNCATE archived_months",
    ] {
        let err = sqlx::query(sql).execute(&w.owner).await.unwrap_err();
        assert!(err.to_string().contains("kept forever"), "{sql}: {err}");
    }
    let size = entries::count_all(&w.owner).await.unwrap();
    assert_eq!(chain::verify(&w.owner).await.unwrap(), Ok(size));
}
