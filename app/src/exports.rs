//! Scheduled exports as the console and the API show and ask for them: a schedule, a run of
//! one period, and why a request about them changed nothing. The server checks every rule
//! (the database again, migrations/0028); the page uses the same words.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest schedule name, in characters.
pub const SCHEDULE_NAME_MAX: usize = 100;

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
    /// A folder under the server's export directory.
    pub directory: String,
    pub enabled: bool,
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
    pub directory: String,
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
    /// Where the object is: its path under the export directory.
    pub object_key: Option<String>,
    pub duration_ms: Option<i64>,
    /// The last attempt's error, and when the next is tried (pending after a failure).
    pub error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
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
    /// The period asked to run is not one of the schedule's, or has not ended.
    Period(String),
    NotFound,
    RunNotFound,
    /// The run has no object to download (not succeeded, or its object is gone).
    NoObject(String),
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
            | ScheduleRefusal::Period(m)
            | ScheduleRefusal::NoObject(m) => f.write_str(m),
            ScheduleRefusal::NotFound => {
                f.write_str("no such schedule (it may have been deleted): reload the page")
            }
            ScheduleRefusal::RunNotFound => f.write_str("no such export run"),
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
