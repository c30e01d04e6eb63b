//! Retention: a month older than the policy keeps leaves the log only as a whole partition,
//! only once the monthly bundle of exactly its entries was read back from its destination
//! and verified here (its SHA-256 against the run's, every entry's proof and the checkpoint's
//! signature against the log's key, its manifest against the run; in S3, its Object Lock in
//! force: a mode and a retain-until date still to come), and only through the
//! database's `audit_entries_drop_month()`, which checks the run against the partition itself
//! and refuses the commit unless the same transaction records `retention.partition_dropped`.
//!
//! A month without a bundle yet gets one: a run of the policy's schedule (an unfiltered
//! monthly bundle schedule in UTC) for that month, which the scheduler then makes like any
//! other. A bundle that fails its re-verification keeps its month online, and says why.
//! Every process runs this hourly, beside the scheduler; the database serialises the drops.

use std::path::Path;

use app::filter::Filter;
use app::model::Source;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::acting::Acting;
use super::scheduler::Scheduler;
use crate::domain::export::bundle;
use crate::domain::export::months::{kept_from, next_month};
use crate::domain::export::s3::{lock_in_force, LockMode};
use crate::domain::export::schedule::Period;
use crate::service::bundle_file;
use crate::service::s3::Store;
use crate::service::schedules::{self, credentials_of, target_of, ScheduleError};
use crate::storage::exports::{self as stored, RunRow, ScheduleRow};
use crate::storage::{entries, retention};

/// What became of one month older than the policy keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retained {
    /// Dropped from the log: its bundle, read back and verified, holds every entry.
    Dropped { month: DateTime<Utc>, run: Uuid },
    /// It had no bundle: a run of the policy's schedule was asked for.
    Requested { month: DateTime<Utc>, run: Uuid },
    /// Its bundle is being made.
    Waiting { month: DateTime<Utc> },
    /// Nothing was recorded in it: there is nothing to archive (its empty table stays).
    Empty { month: DateTime<Utc> },
    /// It stays online, and why (a bundle that fails re-verification, a refusal).
    Kept {
        month: DateTime<Utc>,
        reason: String,
    },
}

/// Why a schedule cannot carry a retention policy (`None`: it can).
pub fn unfit(s: &ScheduleRow) -> Option<String> {
    let fit = s.deleted_at.is_none()
        && s.cadence == "monthly"
        && matches!(s.zone.as_str(), "UTC" | "Etc/UTC")
        && s.format == "bundle"
        && s.filter.is_empty();
    (!fit).then(|| {
        format!(
            "the schedule {:?} is not an unfiltered monthly archive bundle in UTC: a month leaves \
             the log only when one bundle holds exactly its entries (choose or create a \
             schedule: monthly, zone UTC, format bundle, no filter)",
            s.name
        )
    })
}

/// Days of margin a month's archive stays locked after it may leave the log (a retention
/// pass delayed by an outage still finds it locked).
const LOCK_MARGIN_DAYS: u32 = 7;

/// Why an S3 schedule's Object Lock is too short for `keep_months` (`None`: long enough). A
/// month leaves the log about `keep_months` months after its bundle is written, and only while
/// the bundle is still locked (`Scheduler::retain` checks); with a shorter lock no month would
/// ever go.
pub fn lock_too_short(s: &ScheduleRow, keep_months: u32) -> Option<String> {
    let days = u32::try_from(s.lock_days?).unwrap_or(0);
    let need = keep_months * 31 + LOCK_MARGIN_DAYS;
    (s.destination == "s3" && days < need).then(|| {
        format!(
            "the schedule {:?} locks its S3 objects for {days} days, but a month leaves the log \
             about {keep_months} months after its bundle is written, and only while the bundle \
             cannot be deleted: lock them for at least {need} days, or keep fewer months online",
            s.name
        )
    })
}

impl Scheduler {
    /// Applies the retention policy at `now` (the database's clock, or a test's): each month
    /// before the ones it keeps is dropped, asked a bundle of, or kept with the reason.
    pub async fn retain(&self, now: DateTime<Utc>) -> Result<Vec<Retained>, sqlx::Error> {
        let pool = &self.archiver.pool;
        let policy = retention::policy(pool).await?;
        let (Some(keep), Some(schedule_id)) = (policy.keep_months, policy.schedule_id) else {
            return Ok(Vec::new());
        };
        let keep_from = kept_from(now, keep.max(1) as u32);
        let months: Vec<_> = retention::online_months(pool)
            .await?
            .into_iter()
            .filter(|m| *m < keep_from)
            .collect();
        if months.is_empty() {
            return Ok(Vec::new());
        }
        let schedule = stored::schedule(pool, schedule_id).await?;
        let mut out = Vec::new();
        for month in months {
            let step = match schedule.as_ref().map(|s| (s, unfit(s))) {
                None => Retained::Kept {
                    month,
                    reason: "the policy's schedule is missing".into(),
                },
                Some((_, Some(reason))) => Retained::Kept { month, reason },
                Some((s, None)) => self.retain_month(s, month, now).await?,
            };
            match &step {
                Retained::Kept { month, reason } => {
                    tracing::warn!(%month, %reason, "a month older than the retention policy stays online")
                }
                Retained::Dropped { month, run } => {
                    tracing::info!(%month, %run, "a month left the log, archived and verified")
                }
                _ => {}
            }
            out.push(step);
        }
        Ok(out)
    }

    async fn retain_month(
        &self,
        schedule: &ScheduleRow,
        month: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Retained, sqlx::Error> {
        let pool = &self.archiver.pool;
        let end = next_month(month);
        let run = stored::succeeded_ending_at(pool, schedule.id, end)
            .await?
            .filter(|r| {
                r.period_start == month
                    && r.format.as_deref() == Some("bundle")
                    && r.filter.as_deref() == Some("")
            });
        let Some(run) = run else {
            if stored::open_run_for(pool, schedule.id, month, end).await? {
                return Ok(Retained::Waiting { month });
            }
            let period = Period { start: month, end };
            return match schedules::run_now(
                pool,
                schedule.id,
                Some(period),
                &Acting::scheduler(),
                now,
            )
            .await
            {
                Ok(run) => Ok(Retained::Requested { month, run: run.id }),
                Err(ScheduleError::Refused(r)) => Ok(Retained::Kept {
                    month,
                    reason: r.to_string(),
                }),
                Err(ScheduleError::Db(e)) => Err(e),
            };
        };
        if run.entries == Some(0) {
            return Ok(Retained::Empty { month });
        }
        let read = self.read_back(schedule, &run, now).await;
        let ReadBack { sha, proven, lock } = match read {
            Ok(found) => found,
            Err(reason) => {
                return Ok(Retained::Kept {
                    month,
                    reason: format!(
                        "its bundle ({}) failed verification after reading it back: {reason}",
                        run.object_key.as_deref().unwrap_or("?")
                    ),
                })
            }
        };
        let mut tx = pool.begin().await?;
        let mut facts = match retention::drop_month(&mut tx, run.id, &sha).await {
            Ok(facts) => facts,
            // The function's refusals, a lock it did not get in time, and an integrity
            // violation (class 23) keep this month online with the reason, and the pass goes on
            // to the next month: one month that cannot go must not hold the later ones.
            Err(sqlx::Error::Database(e))
                if e.code().as_deref().is_some_and(|c| {
                    matches!(c, "22023" | "55000" | "02000" | "55P03" | "40P01")
                        || c.starts_with("23")
                }) =>
            {
                return Ok(Retained::Kept {
                    month,
                    reason: e.message().to_string(),
                })
            }
            Err(e) => return Err(e),
        };
        if let Some(map) = facts.as_object_mut() {
            let mut verified = serde_json::json!({
                "read_back_from_destination": true,
                "sha256": true,
                "entries_proven": proven,
                "checkpoint_signature": true,
            });
            if let Some((mode, until)) = lock {
                verified["object_lock"] = serde_json::json!({
                    "mode": mode.as_str(),
                    "retain_until": until,
                });
            }
            map.insert("verified".into(), verified);
        }
        let label = month.format("%Y-%m").to_string();
        let mut event = Acting::scheduler()
            .event("retention.partition_dropped")
            .on("archive_month", &label);
        event.record.details = facts;
        match entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await {
            Ok(_) => {}
            Err(entries::AppendError::Db(e)) => return Err(e),
            Err(other) => return Err(sqlx::Error::Protocol(other.to_string())),
        }
        tx.commit().await?;
        Ok(Retained::Dropped { month, run: run.id })
    }

    /// Reads `run`'s bundle back from its destination into a work file and verifies it (and,
    /// in S3, that its Object Lock is in force at `now`), or says why it fails.
    async fn read_back(
        &self,
        schedule: &ScheduleRow,
        run: &RunRow,
        now: DateTime<Utc>,
    ) -> Result<ReadBack, String> {
        let path = self
            .archiver
            .work_dir
            .join(format!("read-back-{}.bundle", run.id));
        std::fs::create_dir_all(&self.archiver.work_dir).map_err(|e| e.to_string())?;
        let result = match self.fetch(schedule, run, &path, now).await {
            Ok(lock) => {
                let (path, key, run) = (path.clone(), self.archiver.log_key.clone(), run.clone());
                tokio::task::spawn_blocking(move || check(&path, &key, &run))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r)
                    .map(|(sha, proven)| ReadBack { sha, proven, lock })
            }
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&path);
        result
    }

    /// Copies the object `run` wrote to `to`; in S3, only while its Object Lock is in force at
    /// `now` (which it returns).
    async fn fetch(
        &self,
        schedule: &ScheduleRow,
        run: &RunRow,
        to: &Path,
        now: DateTime<Utc>,
    ) -> Result<Option<(LockMode, DateTime<Utc>)>, String> {
        let location = run.object_key.as_deref().unwrap_or_default();
        match run.destination.as_deref() {
            Some("directory") => {
                let mut file = self
                    .root
                    .open(location)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{location} is not in the export directory"))?;
                let mut out = std::fs::File::create(to).map_err(|e| e.to_string())?;
                std::io::copy(&mut file, &mut out).map_err(|e| e.to_string())?;
                Ok(None)
            }
            Some("s3") => {
                let target = target_of(schedule)
                    .ok_or("the schedule's S3 settings are refused".to_string())?;
                let key = location
                    .strip_prefix(&format!("s3://{}/", target.bucket))
                    .ok_or_else(|| {
                        format!(
                            "{location} is not in the schedule's bucket {} any more",
                            target.bucket
                        )
                    })?
                    .to_string();
                let seal = self
                    .seal
                    .as_ref()
                    .ok_or("this server has no key to open the S3 credentials")?;
                let credentials = credentials_of(schedule, seal)
                    .ok_or("the S3 credentials do not open with this server's key file")?;
                let store = Store::new(target, &credentials, self.outbound.clone())
                    .map_err(|e| e.to_string())?;
                let version = run.object_version.as_deref();
                let head = store.head(&key, version).await.map_err(|e| e.to_string())?;
                let header = |name: &str| {
                    head.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let lock = lock_in_force(
                    header("x-amz-object-lock-mode").as_deref(),
                    header("x-amz-object-lock-retain-until-date").as_deref(),
                    now,
                )
                .map_err(|e| e.to_string())?;
                store
                    .get_to_file(&key, version, to)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Some(lock))
            }
            other => Err(format!(
                "the run names no destination Trailkeep reads ({other:?})"
            )),
        }
    }
}

/// What reading a month's bundle back found: its SHA-256, how many entries it proves, and
/// the Object Lock keeping it (S3 only).
struct ReadBack {
    sha: Vec<u8>,
    proven: u64,
    lock: Option<(LockMode, DateTime<Utc>)>,
}

/// Checks the bundle at `path` against `run`: its SHA-256, the bundle itself (every proof,
/// the checkpoint's signature), and that its manifest states the run's month, seqs, count
/// and last chain hash, unfiltered.
fn check(
    path: &Path,
    key: &crate::domain::integrity::checkpoint::VerifierKey,
    run: &RunRow,
) -> Result<(Vec<u8>, u64), String> {
    let mut sha = Sha256::new();
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    std::io::copy(&mut file, &mut sha).map_err(|e| e.to_string())?;
    let sha = sha.finalize().to_vec();
    if Some(&sha) != run.sha256.as_ref() {
        return Err(format!(
            "its SHA-256 is {}, the run wrote {}: the object was changed or replaced",
            app::integrity::to_hex(&sha),
            run.sha256
                .as_deref()
                .map(app::integrity::to_hex)
                .unwrap_or_default()
        ));
    }
    let verified = bundle_file::verify(path, key)
        .map_err(|e| format!("it cannot be read: {e}"))?
        .map_err(|finding| finding.to_string())?;
    let m = &verified.summary.manifest;
    let states = m.first_seq as i64 == run.first_seq.unwrap_or(-1)
        && m.end_seq as i64 == run.end_seq.unwrap_or(-1)
        && m.count as i64 == run.entries.unwrap_or(-1)
        && m.filter.is_empty()
        && Filter::parse(&m.filter).is_ok()
        && m.period_start == bundle::instant(run.period_start)
        && m.period_end == bundle::instant(run.period_end)
        && Some(m.chain_hash_after.as_str())
            == run
                .chain_hash_after
                .as_deref()
                .map(app::integrity::to_hex)
                .as_deref()
        && verified.summary.complete;
    if !states {
        return Err(format!(
            "its manifest (seqs {}..{}, {} entries, {} to {}) is not the run's month",
            m.first_seq, m.end_seq, m.count, m.period_start, m.period_end
        ));
    }
    Ok((sha, verified.summary.entries))
}

/// Sets the retention policy: keep the current month and `keep_months` before it online, and
/// archive older ones with the schedule `schedule_id` (`None`: keep every month). Audited as
/// `retention.policy_updated` with before and after, in the same transaction.
pub async fn set_policy(
    pool: &sqlx::PgPool,
    keep: Option<(u32, Uuid)>,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<(), ScheduleError> {
    use app::exports::ScheduleRefusal;
    if let Some((months, schedule)) = keep {
        if !(1..=1200).contains(&months) {
            return Err(ScheduleRefusal::Retention(format!(
                "keep 1 to 1200 months online besides the current one, not {months}"
            ))
            .into());
        }
        let row = stored::schedule(pool, schedule)
            .await?
            .filter(|s| s.deleted_at.is_none())
            .ok_or(ScheduleRefusal::NotFound)?;
        if let Some(reason) = unfit(&row) {
            return Err(ScheduleRefusal::Retention(reason).into());
        }
        if let Some(reason) = lock_too_short(&row, months) {
            return Err(ScheduleRefusal::Retention(reason).into());
        }
    }
    let mut tx = pool.begin().await?;
    let label = by.label();
    let before =
        retention::set_policy(&mut tx, keep.map(|(m, s)| (m as i32, s)), &label, now).await?;
    let words = |keep: Option<i32>, schedule: Option<Uuid>| match (keep, schedule) {
        (Some(k), Some(s)) => serde_json::json!({"keep_months": k, "schedule_id": s}),
        _ => serde_json::json!({"keep_months": null, "schedule_id": null}),
    };
    let mut event = by
        .event("retention.policy_updated")
        .on("retention_policy", "retention");
    event.record.details = serde_json::json!({
        "before": words(before.keep_months, before.schedule_id),
        "after": words(keep.map(|k| k.0 as i32), keep.map(|k| k.1)),
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(())
}

/// The policy as the Exports page shows it, with the months already dropped.
pub async fn policy(pool: &sqlx::PgPool) -> Result<app::exports::RetentionPolicy, sqlx::Error> {
    let row = retention::policy(pool).await?;
    let archived = retention::archived(pool).await?;
    Ok(app::exports::RetentionPolicy {
        keep_months: row.keep_months.map(|k| k as u32),
        schedule_id: row.schedule_id,
        updated_by: row.updated_by,
        updated_at: row.updated_at,
        archived: archived
            .into_iter()
            .map(retention::ArchivedMonthRow::into_part)
            .collect(),
    })
}
