//! The form that makes or changes an export schedule: its name, how often (daily, weekly,
//! monthly, or a 5-field cron expression) in which time zone, the audit log's filter it
//! exports (its time range is replaced by each period), and the folder of the server's export
//! directory it writes to. The server checks every field and says how to fix a refused one.

use leptos::prelude::*;

use crate::api::exports::save_schedule;
use crate::exports::{ExportSchedule, ScheduleSpec};

/// What the form is doing: closed, making a new schedule (from a filter), or changing one.
#[derive(Clone, Debug, PartialEq)]
pub enum Editing {
    Closed,
    New { filter: String },
    Change(Box<ExportSchedule>),
}

/// Zones offered first (any IANA name may be typed).
const ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
];

#[component]
pub fn ScheduleForm(
    editing: Editing,
    done: RwSignal<Editing>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let (id, start) = match &editing {
        Editing::Change(s) => (
            Some(s.id),
            ScheduleSpec {
                name: s.name.clone(),
                cadence: s.cadence.clone(),
                cron: s.cron.clone(),
                zone: s.zone.clone(),
                filter: s.filter.clone(),
                format: s.format.clone(),
                directory: s.directory.clone(),
                enabled: s.enabled,
            },
        ),
        Editing::New { filter } => (
            None,
            ScheduleSpec {
                name: String::new(),
                cadence: "monthly".into(),
                cron: None,
                zone: crate::time_zone::browser_zone().unwrap_or_else(|| "UTC".into()),
                filter: filter.clone(),
                format: "bundle".into(),
                directory: "monthly".into(),
                enabled: true,
            },
        ),
        Editing::Closed => return None,
    };
    let name = RwSignal::new(start.name);
    let cadence = RwSignal::new(start.cadence);
    let cron = RwSignal::new(start.cron.unwrap_or_default());
    let zone = RwSignal::new(start.zone);
    let filter = RwSignal::new(start.filter);
    let directory = RwSignal::new(start.directory);
    let enabled = RwSignal::new(start.enabled);
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let title = if id.is_some() {
        "Change the schedule"
    } else {
        "New schedule"
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let spec = ScheduleSpec {
            name: name.get_untracked(),
            cadence: cadence.get_untracked(),
            cron: (cadence.get_untracked() == "cron").then(|| cron.get_untracked()),
            zone: zone.get_untracked(),
            filter: filter.get_untracked(),
            format: "bundle".into(),
            directory: directory.get_untracked(),
            enabled: enabled.get_untracked(),
        };
        saving.set(true);
        leptos::task::spawn_local(async move {
            match save_schedule(id, spec).await {
                Ok(_) => {
                    error.set(None);
                    done.set(Editing::Closed);
                    changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            saving.set(false);
        });
    };
    let audit_link = move || {
        let f = filter.get();
        if f.is_empty() {
            "/audit".to_string()
        } else {
            format!("/audit?{f}")
        }
    };
    Some(view! {
        <form class="schedule-form admin-form" data-testid="schedule-form" on:submit=save
            aria-labelledby="schedule-form-title">
            <h2 id="schedule-form-title">{title}</h2>
            <label>
                <span>"Name"</span>
                <input type="text" name="name" maxlength="100" required data-testid="schedule-name"
                    placeholder="Monthly SOC 2 evidence"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))/>
            </label>
            <div class="form-row">
                <label>
                    <span>"How often"</span>
                    <select name="cadence" data-testid="schedule-cadence"
                        on:change=move |ev| cadence.set(event_target_value(&ev))>
                        {[("daily", "Daily: the previous day"), ("weekly", "Weekly: Monday to Monday"),
                          ("monthly", "Monthly: the previous month"), ("cron", "Cron expression")]
                            .map(|(v, label)| view! {
                                <option value=v selected=move || cadence.get() == v>{label}</option>
                            })}
                    </select>
                </label>
                <Show when=move || cadence.get() == "cron">
                    <label>
                        <span>"Cron expression"</span>
                        <input type="text" name="cron" data-testid="schedule-cron"
                            placeholder="0 6 * * 1-5" aria-describedby="cron-help"
                            prop:value=move || cron.get()
                            on:input=move |ev| cron.set(event_target_value(&ev))/>
                        <small id="cron-help" class="muted">
                            "minute hour day-of-month month day-of-week; each run covers the time \
                             since the one before"
                        </small>
                    </label>
                </Show>
                <label>
                    <span>"Time zone"</span>
                    <input type="text" name="zone" list="schedule-zones" data-testid="schedule-zone"
                        prop:value=move || zone.get()
                        on:input=move |ev| zone.set(event_target_value(&ev))/>
                    <datalist id="schedule-zones">
                        {ZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
                    </datalist>
                </label>
            </div>
            <label>
                <span>"Filter"</span>
                <input type="text" name="filter" data-testid="schedule-filter"
                    placeholder="every entry" aria-describedby="filter-help"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))/>
                <small id="filter-help" class="muted">
                    "The audit log's filter, as in its address. Build it with the pickers there and \
                     choose Export, then Schedule this export. Its time range is replaced by each \
                     period. "
                    <a href=audit_link>"Open this filter in the audit log"</a>
                </small>
            </label>
            <div class="form-row">
                <label>
                    <span>"Format"</span>
                    <select name="format" disabled>
                        <option value="bundle" selected>"Archive bundle (.tar.gz, verifiable offline)"</option>
                    </select>
                </label>
                <label>
                    <span>"Folder"</span>
                    <input type="text" name="directory" maxlength="200" data-testid="schedule-folder"
                        aria-describedby="folder-help"
                        prop:value=move || directory.get()
                        on:input=move |ev| directory.set(event_target_value(&ev))/>
                    <small id="folder-help" class="muted">
                        "inside the server's export directory (TRAILKEEP_EXPORT_DIR)"
                    </small>
                </label>
            </div>
            <label class="checkbox">
                <input type="checkbox" name="enabled" data-testid="schedule-enabled"
                    prop:checked=move || enabled.get()
                    on:change=move |ev| enabled.set(event_target_checked(&ev))/>
                <span>"Enabled (a paused schedule catches up its missed periods when enabled again)"</span>
            </label>
            <p class="form-error" role="alert" data-testid="schedule-error">
                {move || error.get()}
            </p>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="schedule-save"
                    disabled=move || saving.get()>"Save schedule"</button>
                <button type="button" class="secondary"
                    on:click=move |_| done.set(Editing::Closed)>"Cancel"</button>
            </div>
        </form>
    })
}
