//! The one scheduler of scheduled exports, however many server processes run: each process
//! plans the periods that have ended (a period is stored once: the unique index), then claims
//! due runs one at a time under a lease in PostgreSQL (another process takes a run over only
//! once its lease has lapsed: its holder died). A run builds its bundle, hands it to its
//! destination, then records its result and an `export.created` entry in one transaction —
//! only while it still holds the lease. A failed attempt is tried again with backoff, up to
//! [`MAX_ATTEMPTS`]. After downtime every missed period is planned and run, once each.

use std::time::{Duration, Instant};

use app::filter::Filter;
use app::model::Source;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::acting::Acting;
use crate::domain::export::bundle;
use crate::domain::export::format::Format;
use crate::domain::export::schedule::Period;
use crate::domain::sealed::SealKey;
use crate::service::archive::{ArchiveError, Archiver, WorkFile};
use crate::service::destination::{DestinationError, ExportRoot};
use crate::service::outbound::Outbound;
use crate::service::period_file::FileRun;
use crate::service::s3::{S3Error, Store};
use crate::service::schedules::{credentials_of, target_of, timing_of};
use crate::storage::entries;
use crate::storage::exports::{self as stored, RunResult, RunRow};

/// Attempts of one run before it is failed for good.
pub const MAX_ATTEMPTS: i32 = 8;

/// How often each process looks for work.
pub const TICK: Duration = Duration::from_secs(10);

/// How often each process applies the retention policy (`service::retention`).
pub const RETAIN_EVERY: Duration = Duration::from_secs(3600);

/// Periods planned per schedule per tick (a long outage catches up over a few ticks).
const PLAN_AT_MOST: usize = 100;

/// The wait before attempt `attempts + 1`: 30 s doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 8) as u32 - 1;
    Duration::from_secs((30u64 << exp).min(3600))
}

/// One process's part of the scheduler.
#[derive(Clone)]
pub struct Scheduler {
    pub archiver: Archiver,
    pub root: ExportRoot,
    /// Opens S3 destinations' credentials (`None`: S3 runs fail saying so).
    pub seal: Option<SealKey>,
    /// The guarded client S3 uploads go through.
    pub outbound: Outbound,
    /// This process, as a lease holder.
    pub owner: Uuid,
    pub lease: Duration,
}

/// What became of a claimed run.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        run: Uuid,
    },
    /// Tried again later, or failed for good (`retry: false`).
    Failed {
        run: Uuid,
        retry: bool,
        error: String,
    },
    /// Another process took the run over (this one's lease lapsed): nothing recorded.
    LostLease {
        run: Uuid,
    },
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("{0}")]
    Archive(#[from] ArchiveError),
    #[error("{0}")]
    Destination(#[from] DestinationError),
    #[error("{0}")]
    S3(#[from] S3Error),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
    #[error("writing a work file failed: {0}")]
    Io(#[from] std::io::Error),
}

impl From<entries::AppendError> for RunError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => RunError::Db(e),
            other => RunError::Other(other.to_string()),
        }
    }
}

impl Scheduler {
    fn pool(&self) -> &PgPool {
        &self.archiver.pool
    }

    /// Plans every period that has ended by `now` for every enabled schedule. Returns how
    /// many this call stored.
    pub async fn plan(&self, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
        let mut planned = 0;
        for listed in stored::schedules(self.pool()).await? {
            if !listed.enabled {
                continue;
            }
            // Each schedule planned in a transaction holding its row: the timing read is the
            // one in force (an edit waits for this plan, and a plan after it reads the edit),
            // so two processes never plan overlapping periods from two timings.
            let mut tx = self.pool().begin().await?;
            let Some(row) = stored::schedule_locked(&mut tx, listed.id).await? else {
                continue;
            };
            let Some(timing) = timing_of(&row).filter(|_| row.enabled) else {
                continue;
            };
            let until = stored::planned_until(&mut *tx, row.id).await?;
            for p in timing.due(row.starts_at, until, now, PLAN_AT_MOST) {
                if stored::plan(&mut *tx, row.id, p.start, p.end, now).await? {
                    planned += 1;
                }
            }
            tx.commit().await?;
        }
        Ok(planned)
    }

    /// Plans, then runs due runs until none is left (`now`: the database's clock, or a test's).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<Outcome>, sqlx::Error> {
        self.plan(now).await?;
        let started = Instant::now();
        let mut outcomes = Vec::new();
        loop {
            let at = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
            match self.run_one(at).await? {
                Some(o) => outcomes.push(o),
                None => return Ok(outcomes),
            }
        }
    }

    /// Claims one due run and carries it out; `None` when none is due.
    pub async fn run_one(&self, now: DateTime<Utc>) -> Result<Option<Outcome>, sqlx::Error> {
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(1));
        let Some(run) =
            stored::claim(self.pool(), self.owner, now, now + lease, MAX_ATTEMPTS).await?
        else {
            return Ok(None);
        };
        let started = Instant::now();
        // The lease is renewed while the run works, by a task of its own, so that renewing
        // never waits for a step of the work (compressing a bundle holds its thread for
        // minutes); losing the lease stops the work.
        let (lost_tx, lost) = tokio::sync::oneshot::channel::<()>();
        let renewing = tokio::spawn({
            let (pool, owner, every, id) =
                (self.pool().clone(), self.owner, self.lease / 3, run.id);
            async move {
                loop {
                    tokio::time::sleep(every).await;
                    let until = now
                        + chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
                        + lease;
                    match stored::renew(&pool, id, owner, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let _ = lost_tx.send(());
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(run = %id, error = %e, "renewing an export lease failed")
                        }
                    }
                }
            }
        });
        let _stop_renewing = AbortOnDrop(renewing);
        let work = self.carry_out(&run, now, started);
        let result = tokio::select! {
            // A run that ended is recorded as such, even if its lease was lost at that moment.
            biased;
            r = work => r,
            Ok(()) = lost => return Ok(Some(Outcome::LostLease { run: run.id })),
        };
        let outcome = match result {
            Ok(true) => Outcome::Succeeded { run: run.id },
            Ok(false) => Outcome::LostLease { run: run.id },
            Err(e) => {
                let error = e.to_string();
                let retry = run.attempts < MAX_ATTEMPTS
                    && !matches!(
                        e,
                        RunError::Other(_)
                            | RunError::Archive(ArchiveError::Archived(_))
                            | RunError::Archive(ArchiveError::Refused(_))
                    );
                let at = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
                let retry_at = retry.then(|| {
                    at + chrono::Duration::from_std(backoff(run.attempts)).unwrap_or_default()
                });
                tracing::warn!(run = %run.id, attempt = run.attempts, retry, %error, "an export run failed");
                if !stored::fail_attempt(self.pool(), run.id, self.owner, &error, retry_at, at)
                    .await?
                {
                    return Ok(Some(Outcome::LostLease { run: run.id }));
                }
                Outcome::Failed {
                    run: run.id,
                    retry,
                    error,
                }
            }
        };
        Ok(Some(outcome))
    }

    /// Builds, stores and records `run`; `Ok(false)` when the lease was lost before the end.
    async fn carry_out(
        &self,
        run: &RunRow,
        now: DateTime<Utc>,
        started: Instant,
    ) -> Result<bool, RunError> {
        let schedule = stored::schedule(self.pool(), run.schedule_id)
            .await?
            .ok_or_else(|| RunError::Other("its schedule is missing".into()))?;
        if schedule.deleted_at.is_some() {
            return Err(RunError::Other(
                "its schedule was deleted before the run".into(),
            ));
        }
        let filter = Filter::parse(&schedule.filter)
            .map_err(|e| RunError::Other(format!("the schedule's filter does not parse: {e}")))?;
        let period = Period {
            start: run.period_start,
            end: run.period_end,
        };
        self.archiver.discard_work_of(run.id);
        let (built, extension) = match (schedule.format.as_str(), Format::named(&schedule.format)) {
            ("bundle", _) => (
                self.archiver
                    .build(schedule.id, &filter, period, run.id, now)
                    .await?,
                "tar.gz",
            ),
            (_, Some(format)) => {
                let file = FileRun {
                    schedule_name: &schedule.name,
                    zone: &schedule.zone,
                    filter: &filter,
                    format,
                    period,
                    run: run.id,
                    requested_at: run.created_at,
                };
                (self.archiver.build_file(file, now).await?, format.as_str())
            }
            (other, None) => {
                return Err(RunError::Other(format!(
                    "the schedule's format {other:?} is not one Trailkeep writes"
                )))
            }
        };
        // In a folder a name holds one file: a run of a period that another run of this
        // schedule already holds (or is writing) takes a name of its own.
        let name = if schedule.destination == "directory"
            && stored::another_run_of_period(self.pool(), run).await?
        {
            bundle::object_name_of_run(schedule.id, period, run.id, extension)
        } else {
            bundle::object_name(schedule.id, period, extension)
        };
        let put = self.put(&schedule, &built, &name, now).await;
        built.discard();
        let (destination, key, object_version) = put?;
        let m = &built.covered;
        let result = RunResult {
            first_seq: m.first_seq as i64,
            end_seq: m.end_seq as i64,
            entries: m.count as i64,
            bytes: built.bytes as i64,
            sha256: built.sha256.to_vec(),
            object_key: key.clone(),
            destination,
            object_version: object_version.clone(),
            filter: schedule.filter.clone(),
            format: schedule.format.clone(),
            checkpoint_size: m.checkpoint_size as i64,
            chain_hash_after: m.chain_hash_after.to_vec(),
            duration_ms: started.elapsed().as_millis() as i64,
        };
        let finished = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
        let mut tx = self.pool().begin().await?;
        if !stored::succeed(&mut tx, run.id, self.owner, &result, finished).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut event = Acting::scheduler()
            .event("export.created")
            .on("export_schedule", &schedule.id.to_string());
        event.record.details = json!({
            "schedule_id": schedule.id,
            "schedule": schedule.name,
            "run_id": run.id,
            "manual": run.manual,
            "requested_by": run.requested_by,
            "format": schedule.format,
            "filter": schedule.filter,
            "period_start": bundle::instant(period.start),
            "period_end": bundle::instant(period.end),
            "first_seq": m.first_seq,
            "end_seq": m.end_seq,
            "count": m.count,
            "bytes": built.bytes,
            "sha256": app::integrity::to_hex(&built.sha256),
            "checkpoint_size": m.checkpoint_size,
            "destination": destination,
            "object_key": key,
            "object_version": object_version,
        });
        entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
        tx.commit().await?;
        tracing::info!(run = %run.id, schedule = %schedule.id, entries = m.count, bytes = built.bytes, "export created");
        Ok(true)
    }

    /// Hands `built` to `schedule`'s destination as `name`, after the head it carries beside
    /// it (`<name>.head.json`, so a file is never there without it):
    /// `(destination, key, version)` of the file.
    async fn put(
        &self,
        schedule: &stored::ScheduleRow,
        built: &crate::service::archive::Built,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(&'static str, String, Option<String>), RunError> {
        let beside_name = format!("{name}.head.json");
        let beside = match &built.head_beside {
            None => None,
            Some(head) => Some(WorkFile::write(
                built.path.with_extension("head.json"),
                &serde_json::to_vec_pretty(head).map_err(std::io::Error::other)?,
            )?),
        };
        if schedule.destination == "s3" {
            let target = target_of(schedule)
                .ok_or_else(|| RunError::Other("the schedule's S3 settings are refused".into()))?;
            let seal = self.seal.as_ref().ok_or_else(|| {
                RunError::Other("this server has no key to open the S3 credentials".into())
            })?;
            let credentials = credentials_of(schedule, seal).ok_or_else(|| {
                RunError::Other(
                    "the S3 credentials do not open with this server's key file: enter them \
                     again"
                        .into(),
                )
            })?;
            let store = Store::new(target, &credentials, self.outbound.clone())?;
            if let Some(beside) = &beside {
                let key = store.target.key(&beside_name);
                store.put_file(beside.path(), &key, now).await?;
            }
            let key = store.target.key(name);
            let up = store.put_file(&built.path, &key, now).await?;
            return Ok(("s3", store.target.location(&up.key), up.version_id));
        }
        let folder = schedule
            .directory
            .as_deref()
            .ok_or_else(|| RunError::Other("the schedule has no folder".into()))?;
        if let Some(beside) = &beside {
            self.root.put(beside.path(), folder, &beside_name)?;
        }
        Ok(("directory", self.root.put(&built.path, folder, name)?, None))
    }

    /// Each [`TICK`] until `stop` resolves: plan and run, by the database's clock.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let work = async {
            let mut retained: Option<Instant> = None;
            loop {
                match stored::clock(self.pool()).await {
                    Ok(now) => {
                        if let Err(e) = self.tick(now).await {
                            tracing::warn!(error = %e, "the export scheduler's tick failed");
                        }
                        if retained.is_none_or(|at| at.elapsed() >= RETAIN_EVERY) {
                            retained = Some(Instant::now());
                            if let Err(e) = self.retain(now).await {
                                tracing::warn!(error = %e, "applying the retention policy failed");
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the export scheduler cannot read the clock")
                    }
                }
                tokio::time::sleep(TICK).await;
            }
        };
        tokio::select! {
            () = work => {}
            () = stop => {}
        }
    }
}

/// Aborts its task when dropped: a run's lease renewal ends with the run, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
