//! Export schedules as people change them, and the history they read: create, change and
//! delete, each committed in one transaction with the entry that records it
//! (`export_schedule.created|updated|deleted`, the schedule as resource, before and after in
//! `details`); "run now" (the newest complete period, again); the runs, newest first. Every
//! rule is checked here before anything is stored (the database checks again).

use app::exports::{self, ExportRun, ExportSchedule, S3Destination, ScheduleRefusal, ScheduleSpec};
use app::filter::{Filter, Order, TimeWindow};
use app::model::Source;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::acting::Acting;
use crate::domain::export::s3::{Credentials, Target};
use crate::domain::export::schedule::{Period, Timing};
use crate::domain::sealed::SealKey;
use crate::service::destination;
use crate::storage::entries;
use crate::storage::exports::{self as stored, NamedRun, ScheduleRow};

/// The label under which S3 credentials are sealed (`domain::sealed`): its own key, bound to
/// the schedule's id.
pub const SEAL_LABEL: &str = "trailkeep export credentials v1";

/// Why a schedule request changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Refused(#[from] ScheduleRefusal),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<entries::AppendError> for ScheduleError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => ScheduleError::Db(e),
            other => {
                tracing::error!(error = %other, "bug: Trailkeep's own entry was not appended");
                ScheduleError::Db(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

/// The formats a schedule may write: an archive bundle, or a file people download.
pub const FORMATS: &[&str] = &["bundle", "csv", "json", "ndjson", "pdf"];

/// A schedule's filter as stored: canonical, without what a period replaces (time range,
/// order, zone).
pub fn schedule_filter(query: &str) -> Result<Filter, ScheduleRefusal> {
    let f = Filter::parse(query.trim_start_matches('?'))
        .map_err(|e| ScheduleRefusal::Filter(format!("the filter does not parse: {e}")))?;
    Ok(Filter {
        time: TimeWindow::All,
        order: Order::default(),
        tz: None,
        ..f
    })
}

/// What a spec becomes, checked.
struct Checked {
    name: String,
    timing: Timing,
    filter: String,
    format: String,
    destination: Destination,
}

/// Where a checked spec writes.
enum Destination {
    Directory(String),
    /// `credentials`: new ones to seal, or `None` to keep the stored ones.
    S3 {
        target: Target,
        credentials: Option<Credentials>,
    },
}

/// The longest filter a schedule keeps, in its canonical form (the table's CHECK says the same).
const MAX_FILTER: usize = 16_384;

fn check(spec: &ScheduleSpec, now: DateTime<Utc>) -> Result<Checked, ScheduleRefusal> {
    let name = exports::schedule_name(&spec.name)?;
    let timing = Timing::new(&spec.cadence, spec.cron.as_deref(), &spec.zone, now)
        .map_err(|e| ScheduleRefusal::Timing(e.to_string()))?;
    let filter = schedule_filter(&spec.filter)?.to_query_string();
    let length = filter.chars().count();
    if length > MAX_FILTER {
        return Err(ScheduleRefusal::Filter(format!(
            "the filter is {length} characters long; a schedule keeps at most {MAX_FILTER}: \
             use fewer values or a wildcard"
        )));
    }
    if !FORMATS.contains(&spec.format.as_str()) {
        return Err(ScheduleRefusal::Format(format!(
            "a schedule writes \"bundle\" (an archive bundle), \"csv\", \"json\", \
             \"ndjson\" or \"pdf\", not {:?}",
            spec.format
        )));
    }
    let destination = match (spec.destination.as_str(), &spec.s3) {
        ("directory", _) => Destination::Directory(
            destination::folder(&spec.directory)
                .map_err(|e| ScheduleRefusal::Folder(e.to_string()))?,
        ),
        ("s3", Some(s3)) => {
            let target = Target::new(
                &s3.endpoint,
                &s3.region,
                &s3.bucket,
                &s3.prefix,
                s3.path_style,
                &s3.lock_mode,
                s3.lock_days,
            )
            .map_err(|e| ScheduleRefusal::S3(e.to_string()))?;
            fn given(v: &Option<String>) -> Option<&str> {
                v.as_deref().map(str::trim).filter(|v| !v.is_empty())
            }
            let credentials = match (given(&s3.access_key_id), given(&s3.secret_access_key)) {
                (None, None) => None,
                (Some(a), Some(s)) => {
                    Some(Credentials::new(a, s).map_err(|e| ScheduleRefusal::S3(e.to_string()))?)
                }
                _ => {
                    return Err(ScheduleRefusal::S3(
                        "give both the access key ID and the secret access key (or neither, \
                         to keep the stored ones)"
                            .into(),
                    ))
                }
            };
            Destination::S3 {
                target,
                credentials,
            }
        }
        ("s3", None) => {
            return Err(ScheduleRefusal::S3(
                "give the bucket's endpoint, region, name and credentials".into(),
            ))
        }
        (other, _) => {
            return Err(ScheduleRefusal::S3(format!(
                "the destination {other:?} is not \"directory\" or \"s3\""
            )))
        }
    };
    Ok(Checked {
        name,
        timing,
        filter,
        format: spec.format.clone(),
        destination,
    })
}

/// Sets `row`'s destination to `d`. New credentials are sealed to the row's id; without new
/// ones the stored ones are kept, but only for the same endpoint and bucket (stored
/// credentials are never sent somewhere new).
fn set_destination(
    row: &mut ScheduleRow,
    d: Destination,
    before: Option<&ScheduleRow>,
    seal: Option<&SealKey>,
) -> Result<(), ScheduleRefusal> {
    match d {
        Destination::Directory(folder) => {
            row.destination = "directory".into();
            row.directory = Some(folder);
            row.s3_endpoint = None;
            row.s3_region = None;
            row.s3_bucket = None;
            row.s3_prefix = None;
            row.s3_path_style = None;
            row.s3_credentials = None;
            row.lock_mode = None;
            row.lock_days = None;
        }
        Destination::S3 {
            target,
            credentials,
        } => {
            let sealed = match credentials {
                Some(c) => {
                    let seal = seal.ok_or_else(|| {
                        ScheduleRefusal::S3(
                            "this server has no key file to seal credentials with: start it \
                             with its log key (trailkeep serve)"
                                .into(),
                        )
                    })?;
                    let plain = serde_json::to_vec(&c).expect("credentials serialise");
                    seal.seal(row.id.as_bytes(), &plain)
                }
                None => before
                    .filter(|b| {
                        b.s3_endpoint.as_deref() == Some(target.endpoint.as_str())
                            && b.s3_bucket.as_deref() == Some(target.bucket.as_str())
                            && b.s3_path_style == Some(target.path_style)
                    })
                    .and_then(|b| b.s3_credentials.clone())
                    .ok_or_else(|| {
                        ScheduleRefusal::S3(
                            "give the access key ID and the secret access key (stored ones are \
                             used only with the endpoint, bucket and addressing they were saved for)"
                                .into(),
                        )
                    })?,
            };
            row.destination = "s3".into();
            row.directory = None;
            row.s3_endpoint = Some(target.endpoint);
            row.s3_region = Some(target.region);
            row.s3_bucket = Some(target.bucket);
            row.s3_prefix = Some(target.prefix);
            row.s3_path_style = Some(target.path_style);
            row.s3_credentials = Some(sealed);
            row.lock_mode = Some(target.lock_mode.as_str().into());
            row.lock_days = Some(target.lock_days as i32);
        }
    }
    Ok(())
}

/// A stored S3 destination's target (checked when it was stored).
pub fn target_of(row: &ScheduleRow) -> Option<Target> {
    Target::new(
        row.s3_endpoint.as_deref()?,
        row.s3_region.as_deref()?,
        row.s3_bucket.as_deref()?,
        row.s3_prefix.as_deref()?,
        row.s3_path_style?,
        row.lock_mode.as_deref()?,
        u32::try_from(row.lock_days?).ok()?,
    )
    .ok()
}

/// A stored S3 destination's credentials, opened.
pub fn credentials_of(row: &ScheduleRow, seal: &SealKey) -> Option<Credentials> {
    let plain = seal
        .open(row.id.as_bytes(), row.s3_credentials.as_deref()?)
        .ok()?;
    serde_json::from_slice(&plain).ok()
}

/// A stored schedule's timing (checked when it was stored).
pub fn timing_of(row: &ScheduleRow) -> Option<Timing> {
    match Timing::stored(&row.cadence, row.cron.as_deref(), &row.zone) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!(schedule = %row.id, error = %e, "a stored schedule's timing is refused");
            None
        }
    }
}

/// A schedule as shown, at `now`.
pub fn view(row: ScheduleRow, now: DateTime<Utc>) -> ExportSchedule {
    let next_run_at = row
        .enabled
        .then(|| timing_of(&row))
        .flatten()
        .and_then(|t| t.period_holding(now))
        .map(|p| p.end);
    let s3 = (row.destination == "s3")
        .then(|| target_of(&row))
        .flatten()
        .map(|t| S3Destination {
            endpoint: t.endpoint,
            region: t.region,
            bucket: t.bucket,
            prefix: t.prefix,
            path_style: t.path_style,
            credentials_set: row.s3_credentials.is_some(),
            lock_mode: t.lock_mode.as_str().into(),
            lock_days: t.lock_days,
        });
    ExportSchedule {
        s3,
        id: row.id,
        name: row.name,
        cadence: row.cadence,
        cron: row.cron,
        zone: row.zone,
        filter: row.filter,
        format: row.format,
        destination: row.destination,
        directory: row.directory,
        enabled: row.enabled,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        next_run_at,
    }
}

/// A run as shown.
pub fn run_view(
    NamedRun {
        run: row,
        schedule_name: name,
    }: NamedRun,
) -> ExportRun {
    let pending = row.status == "pending";
    ExportRun {
        id: row.id,
        schedule_id: row.schedule_id,
        schedule_name: name,
        period_start: row.period_start,
        period_end: row.period_end,
        manual: row.manual,
        requested_by: row.requested_by,
        status: row.status,
        attempts: row.attempts,
        created_at: row.created_at,
        finished_at: row.finished_at,
        first_seq: row.first_seq,
        end_seq: row.end_seq,
        entries: row.entries,
        bytes: row.bytes,
        sha256: row.sha256.as_deref().map(app::integrity::to_hex),
        destination: row.destination,
        object_key: row.object_key,
        object_version: row.object_version,
        duration_ms: row.duration_ms,
        error: row.error,
        next_attempt_at: pending.then_some(row.next_attempt_at),
        format: row.format,
        checkpoint_size: row.checkpoint_size,
    }
}

/// The settings an entry records: never a credential, only whether one is stored.
fn settings(row: &ScheduleRow) -> Map<String, Value> {
    let v = json!({
        "name": row.name,
        "cadence": row.cadence,
        "cron": row.cron,
        "zone": row.zone,
        "filter": row.filter,
        "format": row.format,
        "destination": row.destination,
        "directory": row.directory,
        "s3_endpoint": row.s3_endpoint,
        "s3_region": row.s3_region,
        "s3_bucket": row.s3_bucket,
        "s3_prefix": row.s3_prefix,
        "s3_path_style": row.s3_path_style,
        "s3_credentials": row.s3_credentials.as_ref().map(|_| "set"),
        "lock_mode": row.lock_mode,
        "lock_days": row.lock_days,
        "enabled": row.enabled,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    }
}

/// Creates a schedule at `now`: its first period is the one in progress.
pub async fn create(
    pool: &PgPool,
    spec: &ScheduleSpec,
    seal: Option<&SealKey>,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<ExportSchedule, ScheduleError> {
    let c = check(spec, now)?;
    if stored::schedule_count(pool).await? >= app::exports::SCHEDULES_MAX {
        return Err(ScheduleRefusal::TooMany.into());
    }
    let mut row = ScheduleRow {
        id: Uuid::new_v4(),
        name: c.name,
        cadence: c.timing.cadence.as_str().to_string(),
        cron: c.timing.expression.clone(),
        zone: c.timing.zone.name().to_string(),
        filter: c.filter,
        format: c.format,
        destination: String::new(),
        directory: None,
        s3_endpoint: None,
        s3_region: None,
        s3_bucket: None,
        s3_prefix: None,
        s3_path_style: None,
        s3_credentials: None,
        lock_mode: None,
        lock_days: None,
        enabled: spec.enabled,
        starts_at: now,
        created_by: by.label(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    set_destination(&mut row, c.destination, None, seal)?;
    let mut tx = pool.begin().await?;
    stored::insert_schedule(&mut tx, &row).await?;
    let mut event = by
        .event("export_schedule.created")
        .on("export_schedule", &row.id.to_string());
    event.record.details = Value::Object(settings(&row));
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(view(row, now))
}

/// Changes schedule `id`; the entry names each changed setting before and after.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    spec: &ScheduleSpec,
    seal: Option<&SealKey>,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<ExportSchedule, ScheduleError> {
    let c = check(spec, now)?;
    let new_credentials = matches!(
        c.destination,
        Destination::S3 {
            credentials: Some(_),
            ..
        }
    );
    let mut tx = pool.begin().await?;
    let before = stored::lock_schedule(&mut tx, id)
        .await?
        .ok_or(ScheduleRefusal::NotFound)?;
    let mut after = ScheduleRow {
        name: c.name,
        cadence: c.timing.cadence.as_str().to_string(),
        cron: c.timing.expression.clone(),
        zone: c.timing.zone.name().to_string(),
        filter: c.filter,
        format: c.format,
        enabled: spec.enabled,
        updated_at: now,
        ..before.clone()
    };
    set_destination(&mut after, c.destination, Some(&before), seal)?;
    let (old, new) = (settings(&before), settings(&after));
    let mut changes: Map<String, Value> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), json!({"before": old[k], "after": v})))
        .collect();
    if new_credentials {
        changes.insert(
            "s3_credentials".into(),
            json!({"before": old["s3_credentials"], "after": "replaced"}),
        );
    }
    if changes.is_empty() {
        tx.rollback().await?;
        return Ok(view(before, now));
    }
    stored::update_schedule(&mut tx, &after).await?;
    let mut event = by
        .event("export_schedule.updated")
        .on("export_schedule", &id.to_string());
    event.record.details = json!({"name": after.name, "changes": changes});
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(view(after, now))
}

/// Deletes schedule `id`: no more runs; its history and objects stay.
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<(), ScheduleError> {
    let mut tx = pool.begin().await?;
    let before = stored::lock_schedule(&mut tx, id)
        .await?
        .ok_or(ScheduleRefusal::NotFound)?;
    stored::delete_schedule(&mut tx, id, now).await?;
    let mut event = by
        .event("export_schedule.deleted")
        .on("export_schedule", &id.to_string());
    event.record.details = json!({"name": before.name, "before": settings(&before)});
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(())
}

/// The schedules, by name.
pub async fn list(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<ExportSchedule>, sqlx::Error> {
    Ok(stored::schedules(pool)
        .await?
        .into_iter()
        .map(|r| view(r, now))
        .collect())
}

/// Asks for a run of schedule `id` now: of `period` if given (one of the schedule's that has
/// ended), else of the newest period that has ended. The scheduler takes it within seconds.
pub async fn run_now(
    pool: &PgPool,
    id: Uuid,
    period: Option<Period>,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<ExportRun, ScheduleError> {
    let row = stored::schedule(pool, id)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or(ScheduleRefusal::NotFound)?;
    let timing = timing_of(&row).ok_or_else(|| {
        ScheduleRefusal::Timing("the schedule's timing is no longer valid: edit it".into())
    })?;
    let period = match period {
        Some(p) if !timing.is_period(p) => {
            return Err(ScheduleRefusal::Period(format!(
                "{} to {} is not one of this schedule's periods: choose one from its history",
                p.start.to_rfc3339(),
                p.end.to_rfc3339()
            ))
            .into())
        }
        Some(p) if p.end > now => {
            return Err(ScheduleRefusal::Period(format!(
                "the period ending {} has not ended yet: it runs by itself when it does",
                p.end.to_rfc3339()
            ))
            .into())
        }
        Some(p) => p,
        None => timing.last_complete(now).ok_or_else(|| {
            ScheduleRefusal::Period("the schedule has no period that has ended".into())
        })?,
    };
    let run = stored::insert_manual(pool, id, period.start, period.end, &by.label(), now).await?;
    Ok(run_view(NamedRun {
        run,
        schedule_name: row.name,
    }))
}

/// Runs, newest first (`limit` of them, older than run `before`), with their schedules'
/// names; `None` when `before` is no run.
pub async fn history(
    pool: &PgPool,
    schedule: Option<Uuid>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Option<Vec<ExportRun>>, sqlx::Error> {
    let before = match before {
        None => None,
        Some(id) => match stored::run(pool, id).await? {
            Some(run) => Some(run),
            None => return Ok(None),
        },
    };
    let rows = stored::history(pool, schedule, before.as_ref(), limit).await?;
    Ok(Some(rows.into_iter().map(run_view).collect()))
}
