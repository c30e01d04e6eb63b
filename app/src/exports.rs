//! Scheduled exports as the console and the API show and ask for them: a schedule, a run of
//! one period, and why a request about them changed nothing. The server checks every rule
//! (the database again, migrations/0028); the page uses the same words.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest schedule name, in characters.
pub const SCHEDULE_NAME_MAX: usize = 100;
/// The most schedules Trailkeep keeps (deleted ones aside): each is planned on every tick.
pub const SCHEDULES_MAX: i64 = 1000;

/// What a new or changed schedule is asked to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScheduleSpec {
    pub name: String,
    /// `daily`, `weekly`, `monthly` or `cron`.
    pub cadence: String,
    /// The 5-field expression of a `cron` cadence.
    pub cron: Option<String>,
    /// An IANA zone: periods start at midnight (or the expression's times) there.
    pub zone: String,
    /// The audit log's filter as its URL query (`user=…&action=…`); its time range is not
    /// used: each run covers its own period.
    pub filter: String,
    /// `bundle` (the archive bundle).
    pub format: String,
    /// `directory` (a folder under the server's export directory) or `s3` (a bucket).
    #[serde(default = "directory")]
    pub destination: String,
    /// The folder of a `directory` destination.
    #[serde(default)]
    pub directory: String,
    /// The bucket of an `s3` destination.
    #[serde(default)]
    pub s3: Option<S3Spec>,
    pub enabled: bool,
}

fn directory() -> String {
    "directory".into()
}

/// An S3-compatible bucket as asked for. The credentials are write-only: `None` keeps the
/// stored ones (they are never sent back), and changing the endpoint or the bucket asks for
/// them again, so stored credentials are never sent somewhere new.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct S3Spec {
    /// `https://s3.eu-central-1.amazonaws.com`, or a self-hosted store's URL.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Folders the objects go under (`trailkeep/monthly`), or empty.
    #[serde(default)]
    pub prefix: String,
    /// `endpoint/bucket/key` addressing (most self-hosted stores) instead of `bucket.endpoint/key`.
    #[serde(default)]
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `COMPLIANCE` or `GOVERNANCE`.
    pub lock_mode: String,
    /// How long each object stays locked after its upload, in days.
    pub lock_days: u32,
}

impl fmt::Debug for S3Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Spec")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("path_style", &self.path_style)
            .field("credentials", &self.access_key_id.as_ref().map(|_| "…"))
            .field("lock_mode", &self.lock_mode)
            .field("lock_days", &self.lock_days)
            .finish()
    }
}

/// An S3 destination as shown: everything but the credentials, of which only that they are
/// set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct S3Destination {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub prefix: String,
    pub path_style: bool,
    pub credentials_set: bool,
    pub lock_mode: String,
    pub lock_days: u32,
}

/// One schedule as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExportSchedule {
    pub id: Uuid,
    pub name: String,
    pub cadence: String,
    pub cron: Option<String>,
    pub zone: String,
    /// Canonical, without a time range.
    pub filter: String,
    pub format: String,
    /// `directory` or `s3`.
    pub destination: String,
    /// A directory destination's folder.
    pub directory: Option<String>,
    /// An S3 destination.
    pub s3: Option<S3Destination>,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the period now running ends and its export is made (none when disabled).
    pub next_run_at: Option<DateTime<Utc>>,
}

/// One run of a schedule (a period), as the history shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExportRun {
    pub id: Uuid,
    pub schedule_id: Uuid,
    pub schedule_name: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Asked for by a person ("Run now"), with who.
    pub manual: bool,
    pub requested_by: Option<String>,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The period's seq range `first_seq..end_seq`.
    pub first_seq: Option<i64>,
    pub end_seq: Option<i64>,
    pub entries: Option<i64>,
    pub bytes: Option<i64>,
    /// Hex.
    pub sha256: Option<String>,
    /// Where the object went (`directory` or `s3`), and its key: a path under the export
    /// directory, or `s3://bucket/key`.
    pub destination: Option<String>,
    pub object_key: Option<String>,
    /// The version an S3 store gave the object.
    pub object_version: Option<String>,
    pub duration_ms: Option<i64>,
    /// The last attempt's error, and when the next is tried (pending after a failure).
    pub error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// What it was written as (`bundle`, `csv`, `json`, `ndjson`, `pdf`), once succeeded.
    pub format: Option<String>,
    /// The size of the signed checkpoint its proofs lead to.
    pub checkpoint_size: Option<i64>,
}

/// One UTC month of the log: the entries recorded in it (online: nothing is ever dropped
/// yet) and the unfiltered archive bundles that hold them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ArchiveMonth {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The month's seq range `first_seq..end_seq`.
    pub first_seq: i64,
    pub end_seq: i64,
    pub entries: i64,
    /// How much of the range the archives hold: `whole`, `partly`, `none`, or `empty` (no
    /// entry was recorded in the month).
    pub archived: String,
    pub archives: Vec<ArchiveCopy>,
    /// Its entries are in the database (`false`: retention dropped the month after its
    /// bundle was read back and verified; only the archive holds them).
    pub online: bool,
}

/// The retention policy: keep the current month and `keep_months` before it in the database;
/// older months leave it once the schedule `schedule_id` (monthly, UTC, unfiltered bundles)
/// archived them and the bundle was read back and verified. `None`: every month stays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetentionPolicy {
    pub keep_months: Option<u32>,
    pub schedule_id: Option<Uuid>,
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The months already dropped, oldest first, and where their bundles are.
    pub archived: Vec<crate::model::ArchivedPart>,
}

/// What an admin asks the policy to be (`keep_months: None`: keep every month).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetentionSpec {
    pub keep_months: Option<u32>,
    pub schedule_id: Option<Uuid>,
}

/// A bundle holding some of a month's entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ArchiveCopy {
    pub run_id: Uuid,
    /// `directory` or `s3`.
    pub destination: String,
    /// The object's path under the export directory, or `s3://bucket/key`.
    pub location: String,
    pub version: Option<String>,
    pub first_seq: i64,
    pub end_seq: i64,
}

/// Why a request about schedules changed nothing, in words that say how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleRefusal {
    Name,
    /// The cadence, expression or zone (the words say which and how).
    Timing(String),
    Filter(String),
    Format(String),
    Folder(String),
    /// The S3 destination's settings or credentials (the words say which and how).
    S3(String),
    /// The period asked to run is not one of the schedule's, or has not ended.
    Period(String),
    NotFound,
    RunNotFound,
    /// The run has no object to download (not succeeded, or its object is gone).
    NoObject(String),
    /// The retention policy asked for (the words say what to change).
    Retention(String),
    /// [`SCHEDULES_MAX`] schedules exist already.
    TooMany,
}

impl fmt::Display for ScheduleRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleRefusal::Name => write!(
                f,
                "give the schedule a name of 1 to {SCHEDULE_NAME_MAX} characters"
            ),
            ScheduleRefusal::Timing(m)
            | ScheduleRefusal::Filter(m)
            | ScheduleRefusal::Format(m)
            | ScheduleRefusal::Folder(m)
            | ScheduleRefusal::S3(m)
            | ScheduleRefusal::Period(m)
            | ScheduleRefusal::NoObject(m)
            | ScheduleRefusal::Retention(m) => f.write_str(m),
            ScheduleRefusal::NotFound => {
                f.write_str("no such schedule (it may have been deleted): reload the page")
            }
            ScheduleRefusal::RunNotFound => f.write_str("no such export run"),
            ScheduleRefusal::TooMany => write!(
                f,
                "Trailkeep keeps at most {SCHEDULES_MAX} schedules: delete one that is no \
                 longer needed, or widen one's filter to cover what two do"
            ),
        }
    }
}

impl std::error::Error for ScheduleRefusal {}

/// A schedule's name, trimmed, if it is one.
pub fn schedule_name(name: &str) -> Result<String, ScheduleRefusal> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > SCHEDULE_NAME_MAX || name.chars().any(char::is_control) {
        return Err(ScheduleRefusal::Name);
    }
    Ok(name.to_string())
}
