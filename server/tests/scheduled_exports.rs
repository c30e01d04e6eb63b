//! Scheduled exports end to end on real PostgreSQL and a real directory: schedules plan their
//! periods, one process runs each once under a lease, bundles cover each entry exactly once
//! across DST changes, verify offline (and as a chain), come out byte-identical when a period
//! is run twice, and every tampering is caught and named. Entries are recorded at chosen
//! future instants through the real append path: the owner moves the chain head's
//! `last_recorded_at` forward, and an append takes the later of the clock and it.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use app::exports::ScheduleSpec;
use app::integrity::Check;
use app::model::Source;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use trailkeep::domain::export::bundle;
use trailkeep::domain::integrity::checkpoint::SigningKey;
use trailkeep::service::accounts::Acting;
use trailkeep::service::bundle_file;
use trailkeep::service::destination::ExportRoot;
use trailkeep::service::scheduler::Outcome;
use trailkeep::service::schedules;
use trailkeep::storage::entries;
use uuid::Uuid;

use common::exports::{directory_spec, key, temp_dir, utc, World};

impl World {
    async fn schedule(&self, cadence: &str, zone: &str, filter: &str, created: &str) -> Uuid {
        let spec = directory_spec(cadence, zone, filter, "bundle", "archive/monthly");
        self.create(&spec, created).await
    }

    /// The objects of succeeded runs, in period order: (period start, path).
    async fn objects(&self, schedule: Uuid) -> Vec<(DateTime<Utc>, PathBuf)> {
        let rows: Vec<(DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT period_start, object_key FROM export_runs WHERE schedule_id = $1 \
             AND status = 'succeeded' AND NOT manual ORDER BY period_start",
        )
        .bind(schedule)
        .fetch_all(&self.owner)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(start, key)| (start, self.root.join(key)))
            .collect()
    }

    /// Seqs recorded in `[from, to)`, by the database.
    async fn seqs_recorded(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<i64> {
        sqlx::query_scalar(
            "SELECT seq FROM audit_entries WHERE recorded_at >= $1 AND recorded_at < $2 ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.owner)
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

/// The seqs a bundle holds (read from its entries member).
fn bundle_seqs(path: &Path) -> Vec<i64> {
    let members = read_members(path);
    String::from_utf8(members[bundle::ENTRIES].clone())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

fn read_members(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = BTreeMap::new();
    for m in archive.entries().unwrap() {
        let mut m = m.unwrap();
        let name = m.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        m.read_to_end(&mut bytes).unwrap();
        out.insert(name, bytes);
    }
    out
}

/// Writes `members` as a bundle (in the given order) to a new file.
fn write_members(members: &[(&str, Vec<u8>)]) -> PathBuf {
    let path = temp_dir().join("tampered.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in members {
        let h = bundle::tar_header(name, bytes.len() as u64);
        tar.append(&h, &bytes[..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    path
}

fn verify(
    path: &Path,
    previous: Option<&Path>,
    key: &SigningKey,
) -> Result<bundle_file::Verified, app::integrity::Finding> {
    bundle_file::verify_chain(path, previous, key.verifier())
        .unwrap()
        .map(|(v, _)| v)
}

#[sqlx::test(migrations = "../migrations")]
async fn monthly_bundles_in_berlin_cover_each_entry_once_across_summer_time(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = w
        .schedule("monthly", "Europe/Berlin", "", "2027-02-10T00:00:00Z")
        .await;
    // Around each month's start in Berlin (23:00 UTC in winter, 22:00 in summer) and the
    // spring-forward hour (01:00 UTC on 28 March).
    for at in [
        "2027-02-15T12:00:00Z",
        "2027-02-28T22:59:59.999999Z",
        "2027-02-28T23:00:00Z",
        "2027-03-28T00:59:59.999999Z",
        "2027-03-28T01:00:00Z",
        "2027-03-31T21:59:59.999999Z",
        "2027-03-31T22:00:00Z",
        "2027-04-30T21:59:59.999999Z",
        "2027-04-30T22:00:00Z",
    ] {
        w.record_at(at, 2).await;
    }
    let scheduler = w.scheduler();
    let outcomes = scheduler.tick(utc("2027-05-01T00:00:00Z")).await.unwrap();
    assert_eq!(succeeded(&outcomes), 3, "{outcomes:?}");

    let objects = w.objects(schedule).await;
    let starts: Vec<DateTime<Utc>> = objects.iter().map(|o| o.0).collect();
    assert_eq!(
        starts,
        [
            utc("2027-01-31T23:00:00Z"),
            utc("2027-02-28T23:00:00Z"),
            utc("2027-03-31T22:00:00Z")
        ]
    );
    let ends = [
        utc("2027-02-28T23:00:00Z"),
        utc("2027-03-31T22:00:00Z"),
        utc("2027-04-30T22:00:00Z"),
    ];
    // Each bundle holds exactly what the database says was recorded in its period.
    for ((start, path), end) in objects.iter().zip(ends) {
        assert_eq!(bundle_seqs(path), w.seqs_recorded(*start, end).await);
    }
    // Together, every entry recorded from the first period's start to the last one's end,
    // once (the schedule's own entry, recorded before February, in none).
    let all: Vec<i64> = objects.iter().flat_map(|(_, p)| bundle_seqs(p)).collect();
    assert_eq!(all, w.seqs_recorded(starts[0], ends[2]).await);
    assert_eq!(all.len(), 16);

    // Each verifies offline, and as a chain.
    let first = verify(&objects[0].1, None, &w.key).unwrap();
    assert!(first.summary.complete);
    assert_eq!(first.summary.entries, 2 + 2);
    for pair in objects.windows(2) {
        let v = verify(&pair[1].1, Some(&pair[0].1), &w.key).unwrap();
        assert!(v.summary.complete);
    }
    // Not consecutive: April after February.
    let gap = verify(&objects[2].1, Some(&objects[0].1), &w.key).unwrap_err();
    assert_eq!(gap.check, Check::Consistency, "{gap}");

    // Each run was recorded as export.created, by the scheduler, with its SHA-256.
    let created: Vec<(serde_json::Value,)> = sqlx::query_as(
        "SELECT details FROM audit_entries WHERE action = 'export.created' ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(created.len(), 3);
    let bytes = std::fs::read(&objects[1].1).unwrap();
    let sha = app::integrity::to_hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(created[1].0["sha256"], sha.as_str());
    assert_eq!(created[1].0["schedule_id"], schedule.to_string());
    assert_eq!(created[1].0["count"], 8);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_period_run_again_gives_the_same_bytes(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = w.schedule("daily", "UTC", "", "2027-03-01T00:00:00Z").await;
    w.record_at("2027-03-01T10:00:00Z", 5).await;
    w.record_at("2027-03-02T10:00:00Z", 3).await;
    let scheduler = w.scheduler();
    let now = utc("2027-03-02T12:00:00Z");
    assert_eq!(succeeded(&scheduler.tick(now).await.unwrap()), 1);
    let (_, path) = w.objects(schedule).await.remove(0);
    let before = std::fs::read(&path).unwrap();
    // More entries since, and more checkpoints signed: the period's bundle is the same.
    w.record_at("2027-03-02T11:00:00Z", 4).await;
    let later = now + chrono::Duration::seconds(1);
    let run = schedules::run_now(&w.writer, schedule, None, &Acting::cli(), later)
        .await
        .unwrap();
    assert_eq!(run.period_start, utc("2027-03-01T00:00:00Z"));
    assert_eq!(succeeded(&scheduler.tick(later).await.unwrap()), 1);
    // The second run's object is its own: the first run's file stays as it recorded it.
    let key: String = sqlx::query_scalar("SELECT object_key FROM export_runs WHERE id = $1")
        .bind(run.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let second = w.root.join(&key);
    assert_ne!(second, path);
    assert!(
        key.ends_with(&format!(
            "-run-{}.tar.gz",
            &run.id.simple().to_string()[..8]
        )),
        "{key}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let again: Vec<u8> = std::fs::read(&second).unwrap();
    assert_eq!(before, again, "a period run twice gives identical bytes");
    let shas: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT sha256 FROM export_runs ORDER BY created_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(shas.len(), 2);
    assert_eq!(shas[0], shas[1]);
    // A period that is not the schedule's, or has not ended, is refused.
    let odd = trailkeep::domain::export::schedule::Period {
        start: utc("2027-03-01T06:00:00Z"),
        end: utc("2027-03-02T06:00:00Z"),
    };
    let refused = schedules::run_now(&w.writer, schedule, Some(odd), &Acting::cli(), now).await;
    assert!(refused
        .unwrap_err()
        .to_string()
        .contains("not one of this schedule's periods"));
}

#[sqlx::test(migrations = "../migrations")]
async fn daily_periods_on_the_change_days_hold_their_23_and_25_hours(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = w
        .schedule("daily", "Europe/Berlin", "", "2027-03-27T12:00:00Z")
        .await;
    for at in [
        "2027-03-27T22:59:59Z", // 27 March, 23:59:59 CET
        "2027-03-27T23:00:00Z", // 28 March, 00:00 CET
        "2027-03-28T01:30:00Z", // 03:30 CEST, after the gap
        "2027-03-28T21:59:59Z", // 23:59:59 CEST
        "2027-03-28T22:00:00Z", // 29 March
    ] {
        w.record_at(at, 1).await;
    }
    let scheduler = w.scheduler();
    assert_eq!(
        succeeded(&scheduler.tick(utc("2027-03-29T00:00:00Z")).await.unwrap()),
        2
    );
    let objects = w.objects(schedule).await;
    assert_eq!(bundle_seqs(&objects[0].1).len(), 1);
    assert_eq!(bundle_seqs(&objects[1].1).len(), 3, "the 23-hour day");

    let autumn = w
        .schedule("daily", "Europe/Berlin", "", "2027-10-30T12:00:00Z")
        .await;
    for at in [
        "2027-10-30T21:59:59Z", // 30 October, 23:59:59 CEST
        "2027-10-30T22:00:00Z", // 31 October, 00:00 CEST
        "2027-10-31T00:30:00Z", // 02:30 CEST
        "2027-10-31T01:30:00Z", // 02:30 CET, the same wall time again
        "2027-10-31T22:59:59Z", // 23:59:59 CET
        "2027-10-31T23:00:00Z", // 1 November
    ] {
        w.record_at(at, 1).await;
    }
    scheduler.tick(utc("2027-11-01T00:00:00Z")).await.unwrap();
    let objects = w.objects(autumn).await;
    let last = objects.last().unwrap();
    assert_eq!(last.0, utc("2027-10-30T22:00:00Z"));
    assert_eq!(bundle_seqs(&last.1).len(), 4, "the 25-hour day");
    for pair in objects.windows(2) {
        verify(&pair[1].1, Some(&pair[0].1), &w.key).unwrap();
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn two_processes_run_each_period_once_and_downtime_is_caught_up_once(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = w.schedule("daily", "UTC", "", "2027-06-01T00:00:00Z").await;
    for day in 1..=4 {
        w.record_at(&format!("2027-06-0{day}T12:00:00Z"), 3).await;
    }
    let (a, b) = (w.scheduler(), w.scheduler());
    let now = utc("2027-06-03T00:00:00Z");
    let (ra, rb) = tokio::join!(a.tick(now), b.tick(now));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(succeeded(&ra) + succeeded(&rb), 2, "{ra:?} {rb:?}");
    // Down for two days: both missed periods run, once each.
    let later = utc("2027-06-05T00:00:00Z");
    let (ra, rb) = tokio::join!(a.tick(later), b.tick(later));
    assert_eq!(succeeded(&ra.unwrap()) + succeeded(&rb.unwrap()), 2);
    assert!(a.tick(later).await.unwrap().is_empty());
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM export_runs WHERE schedule_id = $1")
        .bind(schedule)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(runs, 4);
    let created: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE action = 'export.created'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(created, 4);
    let objects = w.objects(schedule).await;
    assert_eq!(objects.len(), 4);
    for pair in objects.windows(2) {
        verify(&pair[1].1, Some(&pair[0].1), &w.key).unwrap();
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_whose_process_died_is_taken_over_after_its_lease_and_leaves_one_object(
    pool: PgPool,
) {
    let w = World::new(&pool).await;
    let schedule = w.schedule("daily", "UTC", "", "2027-06-01T00:00:00Z").await;
    w.record_at("2027-06-01T12:00:00Z", 3).await;
    let now = utc("2027-06-02T00:00:00Z");
    let dead = w.scheduler();
    dead.plan(now).await.unwrap();
    // The dead process claimed the run and left a half-built work file.
    let claimed = trailkeep::storage::exports::claim(
        &w.writer,
        dead.owner,
        now,
        now + chrono::Duration::seconds(60),
        trailkeep::service::scheduler::MAX_ATTEMPTS,
    )
    .await
    .unwrap()
    .unwrap();
    let work = ExportRoot::new(&w.root).work_dir();
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join(format!("run-{}-dead.tar.gz", claimed.id)),
        b"half",
    )
    .unwrap();

    let alive = w.scheduler();
    assert!(
        alive
            .tick(now + chrono::Duration::seconds(30))
            .await
            .unwrap()
            .is_empty(),
        "the lease holds"
    );
    let outcomes = alive
        .tick(now + chrono::Duration::seconds(61))
        .await
        .unwrap();
    assert_eq!(outcomes, [Outcome::Succeeded { run: claimed.id }]);
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM export_runs WHERE id = $1")
        .bind(claimed.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 2);
    // The dead process's lease is gone: it can no longer record anything.
    assert!(
        !trailkeep::storage::exports::renew(&w.writer, claimed.id, dead.owner, now)
            .await
            .unwrap()
    );
    let folder: Vec<_> = std::fs::read_dir(w.root.join("archive/monthly"))
        .unwrap()
        .collect();
    assert_eq!(
        folder.len(),
        1,
        "one complete object, nothing partial beside it"
    );
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "the dead attempt's work is gone"
    );
    let (_, path) = w.objects(schedule).await.remove(0);
    verify(&path, None, &w.key).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_whose_process_dies_in_every_attempt_fails_instead_of_looping(pool: PgPool) {
    use trailkeep::service::scheduler::MAX_ATTEMPTS;
    use trailkeep::storage::exports::claim;
    let w = World::new(&pool).await;
    let schedule = w.schedule("daily", "UTC", "", "2027-06-01T00:00:00Z").await;
    w.record_at("2027-06-01T12:00:00Z", 3).await;
    let mut now = utc("2027-06-02T00:00:00Z");
    w.scheduler().plan(now).await.unwrap();
    // Each attempt's process claims the run and dies before its lease ends.
    let lease = chrono::Duration::seconds(60);
    for attempt in 1..=MAX_ATTEMPTS {
        let dead = w.scheduler();
        let run = claim(&w.writer, dead.owner, now, now + lease, MAX_ATTEMPTS)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("attempt {attempt} is claimed"));
        assert_eq!(run.attempts, attempt);
        now += lease + chrono::Duration::seconds(1);
    }
    // The next process fails it, saying why, and claims nothing.
    let alive = w.scheduler();
    assert!(alive.tick(now).await.unwrap().is_empty());
    let (status, attempts, error, finished): (String, i32, Option<String>, Option<DateTime<Utc>>) =
        sqlx::query_as(
            "SELECT status, attempts, error, finished_at FROM export_runs WHERE schedule_id = $1",
        )
        .bind(schedule)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", MAX_ATTEMPTS));
    assert!(finished.is_some_and(|f| f >= now && f < now + chrono::Duration::seconds(1)));
    assert!(
        error.as_deref().unwrap().contains(&format!(
            "its last attempt ({MAX_ATTEMPTS} of {MAX_ATTEMPTS}) stopped or lost its lease"
        )),
        "{error:?}"
    );
    assert!(
        alive
            .tick(now + chrono::Duration::hours(1))
            .await
            .unwrap()
            .is_empty(),
        "and it is not taken up again"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_destination_is_retried_with_backoff(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = w.schedule("daily", "UTC", "", "2027-06-01T00:00:00Z").await;
    w.record_at("2027-06-01T12:00:00Z", 3).await;
    // The folder cannot be made: a file holds its name.
    std::fs::create_dir_all(w.root.join("archive")).unwrap();
    std::fs::write(w.root.join("archive/monthly"), b"in the way").unwrap();
    let s = w.scheduler();
    let now = utc("2027-06-02T00:00:00Z");
    let outcomes = s.tick(now).await.unwrap();
    assert!(
        matches!(&outcomes[..], [Outcome::Failed { retry: true, .. }]),
        "{outcomes:?}"
    );
    let (status, next, error): (String, DateTime<Utc>, Option<String>) = sqlx::query_as(
        "SELECT status, next_attempt_at, error FROM export_runs WHERE schedule_id = $1",
    )
    .bind(schedule)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, "pending");
    assert!(next >= now + chrono::Duration::seconds(30));
    assert!(error.unwrap().contains("writing the export failed"));
    assert!(
        s.tick(now + chrono::Duration::seconds(10))
            .await
            .unwrap()
            .is_empty(),
        "not before the backoff"
    );
    std::fs::remove_file(w.root.join("archive/monthly")).unwrap();
    let outcomes = s.tick(now + chrono::Duration::seconds(40)).await.unwrap();
    assert!(
        matches!(&outcomes[..], [Outcome::Succeeded { .. }]),
        "{outcomes:?}"
    );
    // No work file is left behind.
    let work: Vec<_> = std::fs::read_dir(ExportRoot::new(&w.root).work_dir())
        .unwrap()
        .collect();
    assert!(work.is_empty(), "{work:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_tampering_with_a_bundle_is_caught_and_named(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = w.schedule("daily", "UTC", "", "2027-06-01T00:00:00Z").await;
    w.record_at("2027-06-01T12:00:00Z", 4).await;
    w.record_at("2027-06-02T12:00:00Z", 4).await;
    w.scheduler()
        .tick(utc("2027-06-03T00:00:00Z"))
        .await
        .unwrap();
    let objects = w.objects(schedule).await;
    let (first, second) = (&objects[0].1, &objects[1].1);
    verify(second, Some(first), &w.key).unwrap();

    let members = read_members(second);
    let lines: Vec<String> = String::from_utf8(members[bundle::ENTRIES].clone())
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let with_entries = |lines: &[String]| {
        let entries = lines
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .into_bytes();
        let mut m = members.clone();
        m.insert(bundle::ENTRIES.into(), entries);
        m
    };
    let write =
        |m: &BTreeMap<String, Vec<u8>>| write_members(&bundle::MEMBERS.map(|n| (n, m[n].clone())));
    let fails = |path: PathBuf| verify(&path, None, &w.key).unwrap_err();

    // The untouched members, rewritten, still verify (the tampering below is what fails).
    verify(&write(&members), None, &w.key).unwrap();

    // One entry changed.
    let mut changed = lines.clone();
    changed[1] = changed[1].replace("doc.viewed", "doc.deleted");
    let f = fails(write(&with_entries(&changed)));
    assert_eq!(f.check, Check::LeafHash, "{f}");
    // One entry dropped.
    let mut dropped = lines.clone();
    dropped.remove(2);
    let f = fails(write(&with_entries(&dropped)));
    assert_eq!(f.check, Check::ExportCount, "{f}");
    assert!(f.detail.contains("lacks seq"), "{f}");
    // Two entries swapped: the first seq is not where it belongs.
    let mut swapped = lines.clone();
    swapped.swap(0, 1);
    let f = fails(write(&with_entries(&swapped)));
    assert_eq!(f.check, Check::ExportCount, "{f}");
    assert!(f.detail.contains("lacks seq"), "{f}");
    // An entry repeated in place of the next.
    let mut repeated = lines.clone();
    repeated[2] = repeated[1].clone();
    let f = fails(write(&with_entries(&repeated)));
    assert_eq!(f.check, Check::ExportFilter, "{f}");
    assert!(f.detail.contains("out of seq order"), "{f}");
    // A member's bytes changed (the consistency proof re-indented).
    let mut m = members.clone();
    let consistency: serde_json::Value = serde_json::from_slice(&m[bundle::CONSISTENCY]).unwrap();
    m.insert(
        bundle::CONSISTENCY.into(),
        serde_json::to_vec(&consistency).unwrap(),
    );
    let f = fails(write(&m));
    assert_eq!(f.check, Check::ExportFormat, "{f}");
    assert!(f.detail.contains("consistency.json"), "{f}");
    // Another period's checkpoint swapped in.
    let other = read_members(first);
    let mut m = members.clone();
    m.insert(bundle::CHECKPOINT.into(), other[bundle::CHECKPOINT].clone());
    let f = fails(write(&m));
    assert!(f.detail.contains("checkpoint"), "{f}");
    // A member removed, or the members reordered.
    let f = fails(write_members(&[
        (bundle::CHECKPOINT, members[bundle::CHECKPOINT].clone()),
        (bundle::ENTRIES, members[bundle::ENTRIES].clone()),
        (bundle::MANIFEST, members[bundle::MANIFEST].clone()),
    ]));
    assert_eq!(f.check, Check::ExportFormat, "{f}");
    let f = fails(write_members(&[
        (bundle::CONSISTENCY, members[bundle::CONSISTENCY].clone()),
        (bundle::CHECKPOINT, members[bundle::CHECKPOINT].clone()),
        (bundle::ENTRIES, members[bundle::ENTRIES].clone()),
        (bundle::MANIFEST, members[bundle::MANIFEST].clone()),
    ]));
    assert_eq!(f.check, Check::ExportFormat, "{f}");
    // The manifest's count changed.
    let mut m = members.clone();
    let mut manifest: serde_json::Value = serde_json::from_slice(&m[bundle::MANIFEST]).unwrap();
    manifest["count"] = serde_json::json!(3);
    m.insert(
        bundle::MANIFEST.into(),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    );
    let f = fails(write(&m));
    assert_eq!(f.check, Check::ExportCount, "{f}");
    // Verified with another log's key.
    let f = verify(second, None, &key()).unwrap_err();
    assert_eq!(f.check, Check::Signature, "{f}");
    // The previous bundle given in place of this one's predecessor is the same file.
    let f = verify(second, Some(second), &w.key).unwrap_err();
    assert_eq!(f.check, Check::Consistency, "{f}");

    // The command line says the same, by exit code.
    let vkey = w.key.verifier().as_str().to_string();
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trailkeep"))
            .arg("verify-export")
            .args(args)
            .output()
            .unwrap()
    };
    let ok = run(&[
        second.as_os_str(),
        "--key".as_ref(),
        vkey.as_ref(),
        "--previous".as_ref(),
        first.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(out.contains("follows the previous bundle"), "{out}");
    let bad_path = write(&with_entries(&dropped));
    let bad = run(&[bad_path.as_os_str(), "--key".as_ref(), vkey.as_ref()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).starts_with("bad:"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_filtered_schedule_holds_only_matching_entries_each_proven(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = w
        .schedule(
            "daily",
            "UTC",
            "action=doc.viewed&range=24h",
            "2027-06-01T00:00:00Z",
        )
        .await;
    let stored: String = sqlx::query_scalar("SELECT filter FROM export_schedules WHERE id = $1")
        .bind(schedule)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        stored, "action=doc.viewed",
        "the time range is the period's"
    );
    sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
        .bind(utc("2027-06-01T12:00:00Z"))
        .execute(&pool)
        .await
        .unwrap();
    let mut batch = common::events("doc.viewed", 3);
    batch.extend(common::events("doc.deleted", 2));
    entries::append(&w.writer, Source::Trailkeep, batch)
        .await
        .unwrap();
    w.scheduler()
        .tick(utc("2027-06-02T00:00:00Z"))
        .await
        .unwrap();
    let (_, path) = w.objects(schedule).await.remove(0);
    let v = verify(&path, None, &w.key).unwrap();
    assert_eq!(v.summary.entries, 3);
    assert!(!v.summary.complete);
    assert_eq!(v.summary.manifest.end_seq - v.summary.manifest.first_seq, 5);
}

#[sqlx::test(migrations = "../migrations")]
async fn schedule_changes_are_recorded_with_before_and_after_and_bad_ones_refused(pool: PgPool) {
    let w = World::new(&pool).await;
    let now = utc("2027-01-01T00:00:00Z");
    let mut spec = ScheduleSpec {
        name: "Monthly SOC 2".into(),
        cadence: "monthly".into(),
        cron: None,
        zone: "Europe/Berlin".into(),
        filter: "user=alice".into(),
        format: "bundle".into(),
        destination: "directory".into(),
        directory: "soc2".into(),
        s3: None,
        enabled: true,
    };
    let created = schedules::create(&w.writer, &spec, None, &Acting::cli(), now)
        .await
        .unwrap();
    assert_eq!(created.next_run_at, Some(utc("2027-01-31T23:00:00Z")));
    spec.cadence = "cron".into();
    spec.cron = Some("0 6 * * 1".into());
    schedules::update(&w.writer, created.id, &spec, None, &Acting::cli(), now)
        .await
        .unwrap();
    schedules::delete(&w.writer, created.id, &Acting::cli(), now)
        .await
        .unwrap();
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT action, details FROM audit_entries WHERE action LIKE 'export_schedule.%' ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "export_schedule.created",
            "export_schedule.updated",
            "export_schedule.deleted"
        ]
    );
    assert_eq!(rows[0].1["filter"], "user=alice");
    assert_eq!(rows[1].1["changes"]["cadence"]["before"], "monthly");
    assert_eq!(rows[1].1["changes"]["cadence"]["after"], "cron");
    assert_eq!(rows[1].1["changes"]["cron"]["after"], "0 6 * * 1");
    assert!(
        rows[1].1["changes"].get("zone").is_none(),
        "only what changed"
    );
    assert_eq!(rows[2].1["before"]["name"], "Monthly SOC 2");
    assert!(schedules::list(&w.writer, now).await.unwrap().is_empty());

    for (field, bad) in [
        (
            "name",
            ScheduleSpec {
                name: " ".into(),
                ..spec.clone()
            },
        ),
        (
            "cron",
            ScheduleSpec {
                cron: Some("* * * * *".into()),
                ..spec.clone()
            },
        ),
        (
            "zone",
            ScheduleSpec {
                zone: "Mars/Base".into(),
                ..spec.clone()
            },
        ),
        (
            "filter",
            ScheduleSpec {
                filter: "action=not a thing!".into(),
                ..spec.clone()
            },
        ),
        (
            "format",
            ScheduleSpec {
                format: "xlsx".into(),
                ..spec.clone()
            },
        ),
        (
            "directory",
            ScheduleSpec {
                directory: "../../etc".into(),
                ..spec.clone()
            },
        ),
    ] {
        let err = schedules::create(&w.writer, &bad, None, &Acting::cli(), now)
            .await
            .unwrap_err();
        assert!(
            matches!(err, schedules::ScheduleError::Refused(_)),
            "{field}: {err}"
        );
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM export_schedules")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 1, "nothing refused was stored");
}

#[sqlx::test(migrations = "../migrations")]
async fn recorded_at_never_goes_back_along_seq(pool: PgPool) {
    let w = World::new(&pool).await;
    w.record_at("2027-06-01T12:00:00Z", 2).await;
    // A row that extends the chain correctly but was recorded before the one it follows is
    // refused by the database, even from the owner.
    let err = sqlx::query(
        "INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, \
         action, status, details, form, source, leaf_hash, chain_hash) \
         SELECT h.next_seq, gen_random_uuid(), e.occurred_at, e.recorded_at - interval '1 hour', \
         e.actor_type, e.actor_id, e.action, e.status, e.details, e.form, e.source, e.leaf_hash, \
         sha256(h.head_hash || e.leaf_hash) FROM audit_entries e, chain_head h WHERE e.seq = 0",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("recorded_at never decreases"),
        "{err}"
    );
}

fn get(path: &str, key: Option<&str>) -> axum::http::Request<axum::body::Body> {
    let mut b = axum::http::Request::get(path);
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(axum::body::Body::empty()).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn readers_list_the_history_and_download_objects_and_no_one_else(pool: PgPool) {
    use trailkeep::domain::auth::Scope;
    let w = World::new(&pool).await;
    let schedule = w.schedule("daily", "UTC", "", "2027-06-01T00:00:00Z").await;
    w.record_at("2027-06-01T12:00:00Z", 3).await;
    w.record_at("2027-06-02T12:00:00Z", 3).await;
    w.scheduler()
        .tick(utc("2027-06-03T00:00:00Z"))
        .await
        .unwrap();
    let config = trailkeep::infra::config::Config {
        export_dir: w.root.clone(),
        ..Default::default()
    };
    let app = common::router_with(&pool, Some(w.key.verifier()), config).await;
    let reader = common::key(&pool, &[Scope::Read]).await;
    let ingest = common::key(&pool, &[Scope::Ingest]).await;

    let r = common::send(&app, get("/api/v1/exports/schedules", Some(&reader))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[0]["id"], schedule.to_string());
    let r = common::send(&app, get("/api/v1/exports/runs?limit=1", Some(&reader))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let newest = r.body["runs"][0].clone();
    assert_eq!(newest["period_start"], "2027-06-02T00:00:00Z");
    assert_eq!(newest["status"], "succeeded");
    // Its 3, and the export.created of the day before, recorded during it.
    assert_eq!(newest["entries"], 4);
    let next = r.body["next"].as_str().unwrap().to_string();
    let r = common::send(
        &app,
        get(
            &format!("/api/v1/exports/runs?limit=1&before={next}"),
            Some(&reader),
        ),
    )
    .await;
    assert_eq!(r.body["runs"][0]["period_start"], "2027-06-01T00:00:00Z");
    assert!(r.body["next"].is_null());

    let id = newest["id"].as_str().unwrap();
    let r = common::send(
        &app,
        get(
            &format!("/api/v1/exports/runs/{id}/download"),
            Some(&reader),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = std::fs::read(w.root.join(newest["object_key"].as_str().unwrap())).unwrap();
    assert_eq!(r.bytes, stored);
    assert_eq!(
        r.headers["x-trailkeep-sha256"],
        newest["sha256"].as_str().unwrap()
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    let downloaded: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM audit_entries WHERE action = 'export.downloaded'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(downloaded["run_id"], id);
    assert_eq!(downloaded["completed"], true);

    // Anonymous, an ingest key, an unknown run, a run without an object, a bad id.
    for (path, key, status) in [
        ("/api/v1/exports/schedules".to_string(), None, 401),
        (
            "/api/v1/exports/runs".to_string(),
            Some(ingest.as_str()),
            403,
        ),
        (format!("/api/v1/exports/runs/{id}/download"), None, 401),
        (
            format!("/api/v1/exports/runs/{id}/download"),
            Some(ingest.as_str()),
            403,
        ),
        (
            format!("/api/v1/exports/runs/{}/download", Uuid::new_v4()),
            Some(reader.as_str()),
            404,
        ),
        (
            "/api/v1/exports/runs/nope/download".to_string(),
            Some(reader.as_str()),
            400,
        ),
        (
            "/api/v1/exports/runs?limit=0".to_string(),
            Some(reader.as_str()),
            400,
        ),
        (
            format!("/api/v1/exports/runs?before={}", Uuid::new_v4()),
            Some(reader.as_str()),
            404,
        ),
    ] {
        let r = common::send(&app, get(&path, key)).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        assert!(r.body["error"].is_string(), "{path}");
    }
    let pending = schedules::run_now(
        &w.writer,
        schedule,
        None,
        &Acting::cli(),
        utc("2027-06-03T00:00:00Z"),
    )
    .await
    .unwrap();
    let r = common::send(
        &app,
        get(
            &format!("/api/v1/exports/runs/{}/download", pending.id),
            Some(&reader),
        ),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    // An object removed outside Trailkeep: said so, not a 500.
    std::fs::remove_file(w.root.join(newest["object_key"].as_str().unwrap())).unwrap();
    let r = common::send(
        &app,
        get(
            &format!("/api/v1/exports/runs/{id}/download"),
            Some(&reader),
        ),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("no longer in the export directory"));
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_change_schedules_and_only_readers_see_them(pool: PgPool) {
    use app::error::ConsoleError;
    use app::model::Role;
    use common::console::{call, error, make, session};
    use leptos::server_fn::ServerFn;
    use serde_json::json;
    const LIST: &str = <app::api::exports::ListSchedules as ServerFn>::PATH;
    const SAVE: &str = <app::api::exports::SaveSchedule as ServerFn>::PATH;
    const DELETE: &str = <app::api::exports::DeleteSchedule as ServerFn>::PATH;
    const RUN: &str = <app::api::exports::RunScheduleNow as ServerFn>::PATH;
    const RUNS: &str = <app::api::exports::ListRuns as ServerFn>::PATH;
    const MONTHS: &str = <app::api::exports::ListArchiveMonths as ServerFn>::PATH;
    let app = common::console::app(&pool).await;
    make(&pool, "ada@example.com", Role::Admin).await;
    make(&pool, "cy@example.com", Role::Compliance).await;
    make(&pool, "mo@example.com", Role::Member).await;
    let admin = session(&app, "ada@example.com").await;
    let compliance = session(&app, "cy@example.com").await;
    let member = session(&app, "mo@example.com").await;
    let reader = common::key(&pool, &[trailkeep::domain::auth::Scope::Read]).await;
    let spec = json!({
        "name": "Monthly", "cadence": "monthly", "cron": null, "zone": "UTC",
        "filter": "status=failure", "format": "bundle", "directory": "monthly", "enabled": true,
    });
    let r = common::send(
        &app,
        call(SAVE, Some(&admin), None, json!({"id": null, "spec": spec})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    // A refused field is a 400 that says how to fix it.
    let mut refused = spec.clone();
    refused["zone"] = json!("Nowhere/Else");
    let r = common::send(
        &app,
        call(
            SAVE,
            Some(&admin),
            None,
            json!({"id": null, "spec": refused}),
        ),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(error(&r).to_string().contains("IANA"));

    let changes = [
        (SAVE, json!({"id": id, "spec": spec})),
        (DELETE, json!({"id": id})),
        (RUN, json!({"id": id})),
    ];
    for (path, body) in &changes {
        for cookie in [&compliance, &member] {
            let r = common::send(&app, call(path, Some(cookie), None, body.clone())).await;
            assert_eq!(r.status, 403, "{path}: {}", r.text);
            assert_eq!(error(&r), ConsoleError::AdminOnly);
        }
    }
    for (path, body) in [
        (LIST, json!({})),
        (RUNS, json!({"before": null})),
        (MONTHS, json!({})),
    ] {
        let r = common::send(&app, call(path, Some(&compliance), None, body.clone())).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let r = common::send(&app, call(path, Some(&member), None, body.clone())).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        assert_eq!(error(&r), ConsoleError::NoAccess);
    }
    for (path, body) in changes
        .iter()
        .chain([(LIST, json!({})), (MONTHS, json!({}))].iter())
    {
        for bearer in [Some(reader.as_str()), None] {
            let r = common::send(&app, call(path, None, bearer, body.clone())).await;
            assert_eq!(r.status, 401, "{path}: {}", r.text);
        }
    }
    // Nothing the refused calls asked for happened.
    let (deleted, runs): (Option<DateTime<Utc>>, i64) = sqlx::query_as(
        "SELECT s.deleted_at, (SELECT count(*) FROM export_runs) FROM export_schedules s",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(deleted.is_none());
    assert_eq!(runs, 0);
    let r = common::send(&app, call(RUN, Some(&admin), None, json!({"id": id}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["requested_by"], "ada@example.com");
    let r = common::send(&app, call(DELETE, Some(&admin), None, json!({"id": id}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = common::send(&app, call(DELETE, Some(&admin), None, json!({"id": id}))).await;
    assert_eq!(r.status, 404, "{}", r.text);
}

/// The month view against an oracle: every entry's month and seq from the log, every
/// unfiltered bundle's seq range from the runs; a month is whole exactly when each of its seqs
/// is in one of them. A filtered bundle never counts.
#[sqlx::test(migrations = "../migrations")]
async fn the_month_view_says_which_months_every_entry_is_archived_of(pool: PgPool) {
    use std::collections::BTreeMap;
    use trailkeep::service::months::months;
    let w = World::new(&pool).await;
    w.schedule("daily", "UTC", "", "2027-01-31T00:00:00Z").await;
    w.schedule(
        "monthly",
        "UTC",
        "action=doc.viewed",
        "2027-01-01T00:00:00Z",
    )
    .await;
    w.record_at("2027-01-31T12:00:00Z", 2).await;
    w.record_at("2027-02-01T12:00:00Z", 3).await;
    w.record_at("2027-02-02T12:00:00Z", 4).await;
    w.scheduler()
        .tick(utc("2027-02-02T00:05:00Z"))
        .await
        .unwrap();

    let oracle = |entries: &[(i64, DateTime<Utc>)], ranges: &[(i64, i64)]| {
        let mut by_month: BTreeMap<String, (i64, bool)> = BTreeMap::new();
        for (seq, at) in entries {
            let m = at.format("%Y-%m").to_string();
            let held = ranges.iter().any(|(a, b)| a <= seq && seq < b);
            let e = by_month.entry(m).or_insert((0, true));
            e.0 += 1;
            e.1 &= held;
        }
        by_month
    };
    async fn facts(pool: &PgPool) -> (Vec<(i64, DateTime<Utc>)>, Vec<(i64, i64)>) {
        let entries = sqlx::query_as("SELECT seq, recorded_at FROM audit_entries ORDER BY seq")
            .fetch_all(pool)
            .await
            .unwrap();
        let ranges = sqlx::query_as(
            "SELECT first_seq, end_seq FROM export_runs WHERE status = 'succeeded' AND filter = ''",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        (entries, ranges)
    }
    let check = |view: &[app::exports::ArchiveMonth], expected: &BTreeMap<String, (i64, bool)>| {
        for m in view {
            let key = m.start.format("%Y-%m").to_string();
            match expected.get(&key) {
                None => {
                    assert_eq!(m.entries, 0, "{key}");
                    assert_eq!(m.archived, "empty", "{key}");
                }
                Some((n, whole)) => {
                    assert_eq!(m.entries, *n, "{key}");
                    assert_eq!(m.archived == "whole", *whole, "{key}: {}", m.archived);
                }
            }
        }
        let shown: Vec<String> = view
            .iter()
            .map(|m| m.start.format("%Y-%m").to_string())
            .collect();
        for key in expected.keys() {
            assert!(shown.contains(key), "{key} is missing from {shown:?}");
        }
    };

    let view = months(&w.writer, utc("2027-02-02T00:05:00Z"))
        .await
        .unwrap();
    let (entries, ranges) = facts(&pool).await;
    check(&view, &oracle(&entries, &ranges));
    let by = |m: &str| {
        view.iter()
            .find(|v| v.start.format("%Y-%m").to_string() == m)
            .unwrap()
    };
    // January: its two entries are in the daily bundle of Jan 31 (the filtered monthly one
    // does not count).
    assert_eq!(by("2027-01").archived, "whole");
    assert_eq!(by("2027-01").archives.len(), 1);
    // February: Feb 1's bundle is written, Feb 2's not yet.
    assert_eq!(by("2027-02").archived, "partly");

    // The next day: Feb 2 is archived too (what Trailkeep records of the run lands after it).
    w.record_at("2027-02-03T00:01:00Z", 1).await;
    w.scheduler()
        .tick(utc("2027-02-03T00:05:00Z"))
        .await
        .unwrap();
    let view = months(&w.writer, utc("2027-02-03T00:05:00Z"))
        .await
        .unwrap();
    let (entries, ranges) = facts(&pool).await;
    check(&view, &oracle(&entries, &ranges));
    let feb = view
        .iter()
        .find(|v| v.start.format("%Y-%m").to_string() == "2027-02")
        .unwrap();
    assert_eq!(feb.archived, "partly", "Feb 3's entry is not archived yet");
    assert!(feb.archives.len() >= 2);
    assert!(feb.archives.iter().all(|a| a.location.ends_with(".tar.gz")));
}

/// An edit of a schedule's timing racing a plan in another process: the plan holds or waits
/// for the schedule's row and plans with the timing in force once it has it, never with the
/// one it listed before the edit (two processes would otherwise plan overlapping periods).
#[sqlx::test(migrations = "../migrations")]
async fn a_plan_waits_for_an_edit_of_the_timing_and_plans_with_the_new_one(pool: PgPool) {
    let w = World::new(&pool).await;
    let schedule = w.schedule("daily", "UTC", "", "2027-06-01T00:00:00Z").await;
    let now = utc("2027-06-20T00:00:00Z");
    // The edit, not yet committed, holds the row.
    let mut edit = w.owner.begin().await.unwrap();
    sqlx::query("UPDATE export_schedules SET cadence = 'weekly' WHERE id = $1")
        .bind(schedule)
        .execute(&mut *edit)
        .await
        .unwrap();
    let s = w.scheduler();
    let planning = tokio::spawn(async move { s.plan(now).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!planning.is_finished(), "the plan waits for the edit");
    edit.commit().await.unwrap();
    let planned = planning.await.unwrap().unwrap();
    let periods: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT period_start, period_end FROM export_runs WHERE schedule_id = $1 ORDER BY 1",
    )
    .bind(schedule)
    .fetch_all(&w.owner)
    .await
    .unwrap();
    assert_eq!(planned, periods.len());
    assert!(!periods.is_empty(), "whole weeks have passed");
    for (start, end) in &periods {
        assert_eq!(*end - *start, chrono::Duration::days(7), "{periods:?}");
    }
}
