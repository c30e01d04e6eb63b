//! Server functions of the Exports page. Admins and compliance officers see the schedules and
//! the history (and download from it, through the API's download route); only admins create,
//! change, delete and run schedules. Checked here on every call.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::exports::{
    ArchiveMonth, ExportRun, ExportSchedule, RetentionPolicy, RetentionSpec, ScheduleSpec,
};

/// Runs per page of the history.
pub const RUNS_PAGE: i64 = 50;

/// Every schedule, by name.
#[server(input = Json)]
pub async fn list_schedules() -> Result<Vec<ExportSchedule>, ConsoleError> {
    super::viewer().await?.export_schedules().await
}

/// Creates (`id: None`) or changes a schedule.
#[server(input = Json)]
pub async fn save_schedule(
    id: Option<Uuid>,
    spec: ScheduleSpec,
) -> Result<ExportSchedule, ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.save_schedule(by, id, spec).await
}

/// Deletes a schedule (its history stays).
#[server(input = Json)]
pub async fn delete_schedule(id: Uuid) -> Result<(), ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.delete_schedule(by, id).await
}

/// Runs the schedule's newest complete period now.
#[server(input = Json)]
pub async fn run_schedule_now(id: Uuid) -> Result<ExportRun, ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.run_schedule_now(by, id).await
}

/// A page of the history, newest first, older than run `before`.
#[server(input = Json)]
pub async fn list_runs(before: Option<Uuid>) -> Result<Vec<ExportRun>, ConsoleError> {
    super::viewer().await?.export_runs(before, RUNS_PAGE).await
}

/// Each month of the log, newest first: its entries and the bundles that archive them.
#[server(input = Json)]
pub async fn list_archive_months() -> Result<Vec<ArchiveMonth>, ConsoleError> {
    super::viewer().await?.archive_months().await
}

/// The retention policy, and the months it dropped.
#[server(input = Json)]
pub async fn get_retention_policy() -> Result<RetentionPolicy, ConsoleError> {
    super::viewer().await?.retention_policy().await
}

/// Sets the retention policy (admins).
#[server(input = Json)]
pub async fn save_retention_policy(spec: RetentionSpec) -> Result<RetentionPolicy, ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.set_retention_policy(by, spec).await
}
