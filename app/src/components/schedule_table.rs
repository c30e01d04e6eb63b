//! The export schedules: what each exports, how often, where to, when it runs next; for
//! admins, Run now (the newest complete period, again), Change and Delete.

use leptos::prelude::*;

use crate::api::exports::{delete_schedule, run_schedule_now};
use crate::components::schedule_form::Editing;
use crate::exports::ExportSchedule;
use crate::format::format_utc;

/// A schedule's cadence in words.
fn cadence_words(s: &ExportSchedule) -> String {
    match s.cadence.as_str() {
        "daily" => format!("Daily ({})", s.zone),
        "weekly" => format!("Weekly, Mondays ({})", s.zone),
        "monthly" => format!("Monthly ({})", s.zone),
        _ => format!("Cron {} ({})", s.cron.clone().unwrap_or_default(), s.zone),
    }
}

#[component]
pub fn ScheduleTable(
    schedules: Vec<ExportSchedule>,
    admin: bool,
    editing: RwSignal<Editing>,
    changed: RwSignal<u32>,
    /// What the last action said (the page's: it outlives the table, which is drawn again
    /// after every change).
    message: RwSignal<Option<String>>,
) -> impl IntoView {
    if schedules.is_empty() {
        return view! {
            <p class="state-message" data-testid="no-schedules">
                "No schedule yet. "
                {admin.then_some("Make one with New schedule, or from the audit log: Export, then Schedule this export.")}
            </p>
        }
        .into_any();
    }
    let rows = schedules
        .into_iter()
        .map(|s| {
            let id = s.id;
            let name = s.name.clone();
            let editing_this = s.clone();
            let run_now = move |_| {
                leptos::task::spawn_local(async move {
                    match run_schedule_now(id).await {
                        Ok(run) => {
                            message.set(Some(format!(
                                "Asked for the period {} to {}: it appears in the history, and runs within seconds.",
                                format_utc(&run.period_start),
                                format_utc(&run.period_end)
                            )));
                            changed.update(|n| *n += 1);
                        }
                        Err(e) => message.set(Some(e.to_string())),
                    }
                });
            };
            let delete = {
                let name = name.clone();
                move |_| {
                    let sure = window()
                        .confirm_with_message(&format!(
                            "Delete the schedule “{name}”? It stops running; its history and files stay."
                        ))
                        .unwrap_or(false);
                    if !sure {
                        return;
                    }
                    leptos::task::spawn_local(async move {
                        match delete_schedule(id).await {
                            Ok(()) => changed.update(|n| *n += 1),
                            Err(e) => message.set(Some(e.to_string())),
                        }
                    });
                }
            };
            view! {
                <tr data-testid="schedule-row">
                    <th scope="row">{s.name.clone()}</th>
                    <td>{cadence_words(&s)}</td>
                    <td>{format_words(&s.format)}</td>
                    <td><code class="filter-text">{if s.filter.is_empty() { "every entry".to_string() } else { s.filter.clone() }}</code></td>
                    <td>{destination_words(&s)}</td>
                    <td>{match (s.enabled, s.next_run_at) {
                        (false, _) => "Paused".to_string(),
                        (true, Some(t)) => format_utc(&t),
                        (true, None) => "—".to_string(),
                    }}</td>
                    {admin.then(|| view! {
                        <td class="row-actions">
                            <button type="button" class="secondary" data-testid="run-now"
                                aria-label=format!("Run now: {}", s.name)
                                on:click=run_now>"Run now"</button>
                            <button type="button" class="secondary" data-testid="change-schedule"
                                aria-label=format!("Change: {}", s.name)
                                on:click=move |_| editing.set(Editing::Change(Box::new(editing_this.clone())))>"Change"</button>
                            <button type="button" class="danger" data-testid="delete-schedule"
                                aria-label=format!("Delete: {}", s.name)
                                on:click=delete>"Delete"</button>
                        </td>
                    })}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="admin-table-wrap">
            <table class="admin-table schedule-table" data-testid="schedule-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Runs"</th>
                        <th scope="col">"Format"</th>
                        <th scope="col">"Filter"</th>
                        <th scope="col">"Destination"</th>
                        <th scope="col">"Next run"</th>
                        {admin.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// What a schedule writes, in a word.
fn format_words(format: &str) -> &'static str {
    match format {
        "bundle" => "Archive bundle",
        "csv" => "CSV",
        "json" => "JSON",
        "ndjson" => "NDJSON",
        "pdf" => "PDF report",
        _ => "Unknown format",
    }
}

/// Where a schedule writes, in a few words: its folder, or its bucket with its lock.
fn destination_words(s: &ExportSchedule) -> String {
    match (&s.directory, &s.s3) {
        (_, Some(b)) => {
            let place = if b.prefix.is_empty() {
                format!("s3://{}", b.bucket)
            } else {
                format!("s3://{}/{}", b.bucket, b.prefix)
            };
            let mode = if b.lock_mode == "COMPLIANCE" {
                "compliance"
            } else {
                "governance"
            };
            format!("{place} (locked {} days, {mode})", b.lock_days)
        }
        (Some(d), None) => format!("folder {d}"),
        (None, None) => s.destination.clone(),
    }
}
