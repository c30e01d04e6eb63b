//! Schedules that write the files people download (CSV, JSON, NDJSON, PDF) instead of archive
//! bundles, end to end on real PostgreSQL and a real directory: each daily period in
//! Europe/Berlin (across the spring-forward day) holds exactly the entries recorded in it,
//! every entry once, and `verify-export` accepts each file offline — JSON by its own head,
//! CSV and NDJSON by the head stored beside them. Removing an entry, or adding one
//! from another period, is caught and named; building a period twice gives the same bytes.

mod common;

use std::path::{Path, PathBuf};

use app::integrity::Check;
use app::model::Source;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use trailkeep::domain::export::format::Format;
use trailkeep::domain::export::schedule::Period;
use trailkeep::infra::verify_export::{verify, Beside};
use trailkeep::service::period_file::FileRun;
use trailkeep::storage::entries;
use uuid::Uuid;

use common::exports::{directory_spec, utc, World};

/// A succeeded run's file: its period, path, entries and format.
struct RunFile {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    path: PathBuf,
    entries: i64,
}

impl World {
    async fn file_schedule(&self, format: &str, filter: &str, created: &str) -> Uuid {
        let directory = format!("daily/{format}");
        let spec = directory_spec("daily", "Europe/Berlin", filter, format, &directory);
        self.create(&spec, created).await
    }

    async fn files(&self, schedule: Uuid) -> Vec<RunFile> {
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>, String, i64)> = sqlx::query_as(
            "SELECT period_start, period_end, object_key, entries FROM export_runs \
             WHERE schedule_id = $1 AND status = 'succeeded' ORDER BY period_start",
        )
        .bind(schedule)
        .fetch_all(&self.owner)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(start, end, key, entries)| RunFile {
                start,
                end,
                path: self.root.join(key),
                entries,
            })
            .collect()
    }

    async fn seqs_recorded(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<i64> {
        sqlx::query_scalar(
            "SELECT seq FROM audit_entries WHERE recorded_at >= $1 AND recorded_at < $2 \
             ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.owner)
        .await
        .unwrap()
    }

    /// Appends `viewed` doc.viewed and `deleted` doc.deleted entries recorded at `at`.
    async fn record_mixed(&self, at: &str, viewed: usize, deleted: usize) {
        sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
            .bind(utc(at))
            .execute(&self.owner)
            .await
            .unwrap();
        let mut batch = common::events("doc.viewed", viewed);
        if deleted > 0 {
            batch.extend(common::events("doc.deleted", deleted));
        }
        entries::append(&self.writer, Source::Trailkeep, batch)
            .await
            .unwrap();
    }
}

/// The seqs of a JSON, NDJSON or CSV file, in file order.
fn seqs_of(path: &Path) -> Vec<i64> {
    let text = std::fs::read_to_string(path).unwrap();
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap())
                .collect()
        }
        Some("ndjson") => text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_i64()
                    .unwrap()
            })
            .collect(),
        Some("csv") => {
            let mut r = csv::Reader::from_reader(text.as_bytes());
            let at = r
                .headers()
                .unwrap()
                .iter()
                .position(|h| h == "seq")
                .unwrap();
            r.records()
                .map(|rec| rec.unwrap()[at].parse().unwrap())
                .collect()
        }
        other => panic!("no seqs in a {other:?} file"),
    }
}

/// What `verify-export` reads beside a file: its head, when one is stored there.
/// A JSON export written back in its members' order (serde_json's map sorts them).
fn json_text(v: &serde_json::Value) -> String {
    format!(
        r#"{{"export":{},"entries":{},"count":{},"proven":{}}}"#,
        v["export"], v["entries"], v["count"], v["proven"]
    )
}

fn beside(path: &Path) -> Beside {
    Beside {
        head: trailkeep::infra::verify_export::head_beside(path).map(|p| {
            trailkeep::infra::verify_export::read_head(&std::fs::read_to_string(p).unwrap())
                .unwrap()
        }),
        ..Beside::default()
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn daily_files_in_every_format_hold_each_entry_once_and_verify_offline(pool: PgPool) {
    let w = World::new(&pool).await;
    let created = "2027-03-27T12:00:00Z";
    let json = w.file_schedule("json", "", created).await;
    let csv = w.file_schedule("csv", "", created).await;
    let ndjson = w.file_schedule("ndjson", "", created).await;
    let pdf = w.file_schedule("pdf", "", created).await;
    let viewed = w.file_schedule("json", "action=doc.viewed", created).await;
    w.record_mixed("2027-03-27T22:59:59Z", 2, 1).await; // 27 March, 23:59:59 CET
    w.record_mixed("2027-03-27T23:00:00Z", 1, 1).await; // 28 March, 00:00 CET
    w.record_mixed("2027-03-28T01:30:00Z", 3, 0).await; // 03:30 CEST, after the gap
    w.record_mixed("2027-03-28T22:00:00Z", 1, 2).await; // 29 March
                                                        // The scheduler's own entries are recorded after the periods it exports, as they are when
                                                        // the clock is real.
    sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
        .bind(utc("2027-03-30T00:00:00Z"))
        .execute(&pool)
        .await
        .unwrap();
    let outcomes = w
        .scheduler()
        .tick(utc("2027-03-30T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, trailkeep::service::scheduler::Outcome::Succeeded { .. })),
        "{outcomes:?}"
    );

    let key = w.key.verifier().clone();
    let mut every: Vec<i64> = Vec::new();
    for (schedule, format) in [(json, "json"), (csv, "csv"), (ndjson, "ndjson")] {
        let files = w.files(schedule).await;
        assert_eq!(files.len(), 3, "{format}: 27, 28 (23 hours) and 29 March");
        assert_eq!(
            files[1].end - files[1].start,
            chrono::Duration::hours(23),
            "{format}: the spring-forward day"
        );
        let mut seqs = Vec::new();
        for f in &files {
            let expected = w.seqs_recorded(f.start, f.end).await;
            assert_eq!(seqs_of(&f.path), expected, "{format} of {}", f.start);
            assert_eq!(f.entries as usize, expected.len());
            let b = beside(&f.path);
            assert_eq!(
                b.head.is_some(),
                format != "json",
                "{format}: a head beside it"
            );
            let summary = verify(&f.path, &key, false, &b)
                .unwrap()
                .unwrap_or_else(|e| panic!("{format} of {}: {e}", f.start));
            assert_eq!(summary.entries, expected.len() as u64);
            assert!(summary.count_checked);
            let r = summary.recorded.expect("the file states its period");
            assert_eq!((r.from, r.to), (f.start, f.end));
            assert!(
                summary.complete,
                "{format}: every seq of the period is there"
            );
            seqs.extend(expected);
        }
        if every.is_empty() {
            every = seqs.clone();
        }
        assert_eq!(seqs, every, "{format}: the same entries as the others");
    }
    let all: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM audit_entries WHERE action LIKE 'doc.%' ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(every, all, "every entry in exactly one period, none twice");

    // The filtered JSON: only doc.viewed, each proven; not complete (filtered).
    for f in w.files(viewed).await {
        let s = verify(&f.path, &key, false, &Beside::default())
            .unwrap()
            .unwrap();
        assert!(!s.complete);
        assert_eq!(s.filter.as_deref(), Some("action=doc.viewed"));
        let text = std::fs::read_to_string(&f.path).unwrap();
        assert!(!text.contains("doc.deleted"));
    }

    // Files of every entry are no archive: the month view counts only bundles.
    let months = trailkeep::service::months::months(&w.writer, utc("2027-03-30T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        months
            .iter()
            .all(|m| m.archives.is_empty() && m.archived != "whole"),
        "{months:?}"
    );

    // A head beside a file never overrides what the auditor states: a different filter,
    // count or checkpoint is refused, not silently replaced.
    let day = &w.files(csv).await[1];
    for (given, what) in [
        (
            Beside {
                filter: Some("action=doc.viewed".into()),
                ..beside(&day.path)
            },
            "the filter",
        ),
        (
            Beside {
                count: Some(day.entries as u64 + 1),
                ..beside(&day.path)
            },
            "the count",
        ),
        (
            Beside {
                checkpoint: Some("another\n".into()),
                ..beside(&day.path)
            },
            "another checkpoint",
        ),
    ] {
        let finding = verify(&day.path, &key, false, &given).unwrap().unwrap_err();
        assert!(finding.detail.contains(what), "{what}: {finding}");
    }

    // The PDF: a report of each period, as many entries as the query API finds.
    for f in w.files(pdf).await {
        let bytes = std::fs::read(&f.path).unwrap();
        assert!(bytes.starts_with(b"%PDF-") && bytes.ends_with(b"%%EOF\n"));
        assert_eq!(
            f.entries as usize,
            w.seqs_recorded(f.start, f.end).await.len()
        );
        assert!(!Path::new(&format!("{}.head.json", f.path.display())).exists());
    }

    // Removing an entry of a JSON file is caught: its count, then its completeness.
    let day = &w.files(json).await[1];
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&day.path).unwrap()).unwrap();
    v["entries"].as_array_mut().unwrap().remove(1);
    let cut = day.path.with_file_name("cut.json");
    std::fs::write(&cut, json_text(&v)).unwrap();
    let finding = verify(&cut, &key, false, &Beside::default())
        .unwrap()
        .unwrap_err();
    assert_eq!(finding.check, Check::ExportCount, "{finding}");
    v["count"] = serde_json::json!(v["entries"].as_array().unwrap().len());
    v["proven"] = v["count"].clone();
    std::fs::write(&cut, json_text(&v)).unwrap();
    let finding = verify(&cut, &key, false, &Beside::default())
        .unwrap()
        .unwrap_err();
    assert_eq!(finding.check, Check::ExportCount, "{finding}");
    assert!(
        finding
            .detail
            .contains("of every entry recorded in its period"),
        "{finding}"
    );

    // An entry of another day added to the period is caught and named.
    let next: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w.files(json).await[2].path).unwrap())
            .unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&day.path).unwrap()).unwrap();
    v["entries"]
        .as_array_mut()
        .unwrap()
        .push(next["entries"][0].clone());
    v["count"] = serde_json::json!(v["entries"].as_array().unwrap().len());
    v["proven"] = v["count"].clone();
    std::fs::write(&cut, json_text(&v)).unwrap();
    let finding = verify(&cut, &key, false, &Beside::default())
        .unwrap()
        .unwrap_err();
    assert_eq!(finding.check, Check::ExportFilter, "{finding}");
    assert!(
        finding.detail.contains("not recorded in the period"),
        "{finding}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_period_built_twice_gives_the_same_bytes(pool: PgPool) {
    let w = World::new(&pool).await;
    w.record_mixed("2027-05-01T10:00:00Z", 4, 2).await;
    let archiver = w.scheduler().archiver;
    let filter = app::filter::Filter::default();
    for format in [Format::Csv, Format::Json, Format::Ndjson, Format::Pdf] {
        let run = Uuid::new_v4();
        let build = || {
            archiver.build_file(
                FileRun {
                    schedule_name: "same",
                    zone: "UTC",
                    filter: &filter,
                    format,
                    period: Period {
                        start: utc("2027-05-01T00:00:00Z"),
                        end: utc("2027-05-02T00:00:00Z"),
                    },
                    run,
                    requested_at: utc("2027-05-02T00:00:05Z"),
                },
                utc("2027-05-03T00:00:00Z"),
            )
        };
        let (a, b) = (build().await.unwrap(), build().await.unwrap());
        assert_eq!(a.covered.count, 6, "{format:?}");
        assert_eq!(a.sha256, b.sha256, "{format:?}");
        assert_eq!(
            std::fs::read(&a.path).unwrap(),
            std::fs::read(&b.path).unwrap()
        );
        a.discard();
        b.discard();
    }
}

/// A PDF report holds at most `report::MAX_ENTRIES` entries: a period with one more fails its
/// run for good (not retried: the next attempt would find the same entries), saying which
/// formats have no limit, and leaves no file behind. The periods around it are written.
#[sqlx::test(migrations = "../migrations")]
async fn a_pdf_period_over_the_limit_fails_for_good_and_names_the_formats_without_one(
    pool: PgPool,
) {
    use trailkeep::domain::export::report::MAX_ENTRIES;
    use trailkeep::service::scheduler::Outcome;

    let w = World::new(&pool).await;
    let pdf = w.file_schedule("pdf", "", "2027-06-01T12:00:00Z").await;
    sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
        .bind(utc("2027-06-02T08:00:00Z"))
        .execute(&pool)
        .await
        .unwrap();
    let mut left = MAX_ENTRIES as usize + 1;
    while left > 0 {
        // Ten batches of the ingest API's largest (1,000) per transaction.
        let n = left.min(10_000);
        let mut batch = Vec::with_capacity(n);
        for from in (0..n).step_by(1000) {
            batch.extend(common::events("doc.viewed", (n - from).min(1000)));
        }
        entries::append(&w.writer, Source::Trailkeep, batch)
            .await
            .unwrap();
        left -= n;
    }
    w.record_at("2027-06-03T08:00:00Z", 2).await;
    sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
        .bind(utc("2027-06-04T00:00:00Z"))
        .execute(&pool)
        .await
        .unwrap();

    let outcomes = w
        .scheduler()
        .tick(utc("2027-06-04T00:00:00Z"))
        .await
        .unwrap();
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { .. }))
        .collect();
    assert_eq!(failed.len(), 1, "{outcomes:?}");
    let Outcome::Failed { run, retry, error } = failed[0] else {
        unreachable!()
    };
    assert!(!retry, "the same entries would be refused again");
    assert!(
        error.contains("at most 100,000 entries") && error.contains("has 100,001"),
        "{error}"
    );
    assert!(error.contains("write CSV, JSON or NDJSON"), "{error}");

    let run_row = || async {
        sqlx::query_as::<_, (String, DateTime<Utc>, i32)>(
            "SELECT status, period_start, attempts FROM export_runs WHERE id = $1",
        )
        .bind(run)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let (status, period_start, attempts) = run_row().await;
    assert_eq!(status, "failed");
    assert_eq!(
        period_start,
        utc("2027-06-01T22:00:00Z"),
        "2 June in Berlin"
    );
    assert_eq!(attempts, 1);
    // An hour later nothing is tried again.
    let later = w
        .scheduler()
        .tick(utc("2027-06-04T01:00:00Z"))
        .await
        .unwrap();
    assert!(later.is_empty(), "{later:?}");
    assert_eq!(run_row().await.2, 1, "tried once, never again");

    // 1 and 3 June are written; nothing of 2 June is left in the folder or the work folder.
    let files = w.files(pdf).await;
    assert_eq!(files.len(), 2, "{outcomes:?}");
    assert_eq!(files[1].entries, 2);
    let mut left_over = Vec::new();
    let mut dirs = vec![w.root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                left_over.push(p);
            }
        }
    }
    left_over.retain(|p| !files.iter().any(|f| f.path == *p));
    assert!(left_over.is_empty(), "{left_over:?}");
}

/// A run whose lease is lost is dropped wherever it is (its task stops at the next await):
/// a bundle or a file stopped at any point of its making leaves no work file behind, a
/// bundle still compressing on its blocking thread included, and a finished one's file goes
/// with it.
#[sqlx::test(migrations = "../migrations")]
async fn a_run_stopped_at_any_point_leaves_no_work_file(pool: PgPool) {
    let w = World::new(&pool).await;
    for _ in 0..3 {
        w.record_mixed("2027-05-01T10:00:00Z", 1000, 100).await;
    }
    let archiver = w.scheduler().archiver;
    let work = trailkeep::service::destination::ExportRoot::new(&w.root).work_dir();
    let left = || -> Vec<PathBuf> {
        std::fs::read_dir(&work)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let filter = app::filter::Filter::default();
    let period = Period {
        start: utc("2027-05-01T00:00:00Z"),
        end: utc("2027-05-02T00:00:00Z"),
    };
    let now = utc("2027-05-03T00:00:00Z");
    for format in [None, Some(Format::Csv), Some(Format::Pdf)] {
        let mut budget = std::time::Duration::ZERO;
        let mut stopped = 0;
        loop {
            let run = Uuid::new_v4();
            let making = async {
                match format {
                    None => {
                        archiver
                            .build(Uuid::new_v4(), &filter, period, run, now)
                            .await
                    }
                    Some(format) => {
                        let file = FileRun {
                            schedule_name: "stopped",
                            zone: "UTC",
                            filter: &filter,
                            format,
                            period,
                            run,
                            requested_at: now,
                        };
                        archiver.build_file(file, now).await
                    }
                }
            };
            match tokio::time::timeout(budget, making).await {
                Ok(built) => {
                    let built = built.unwrap();
                    assert_eq!(built.covered.count, 3300, "{format:?}");
                    assert!(built.path.exists());
                    drop(built);
                    assert!(left().is_empty(), "{format:?}: {:?}", left());
                    break;
                }
                Err(_) => stopped += 1,
            }
            // A blocking thread still compressing finishes a file that has no name any more.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            assert!(
                left().is_empty(),
                "{format:?} stopped after {budget:?}: {:?}",
                left()
            );
            budget = budget * 3 / 2 + std::time::Duration::from_millis(1);
        }
        assert!(stopped >= 3, "{format:?}: stopped only {stopped} times");
    }
}
