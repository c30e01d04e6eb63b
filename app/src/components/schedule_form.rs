//! The form that makes or changes an export schedule: its name, how often (daily, weekly,
//! monthly, or a 5-field cron expression) in which time zone, the audit log's filter it
//! exports (its time range is replaced by each period), and where it writes: a folder of the
//! server's export directory, or an S3-compatible bucket under Object Lock. Credentials are
//! write-only: once saved the form says only that they are set. The server checks every
//! field and says how to fix a refused one.

use leptos::prelude::*;

use crate::api::exports::save_schedule;
use crate::exports::{ExportSchedule, S3Spec, ScheduleSpec};

/// What the form is doing: closed, making a new schedule (from a filter), or changing one.
#[derive(Clone, Debug, PartialEq)]
pub enum Editing {
    Closed,
    New { filter: String, format: String },
    Change(Box<ExportSchedule>),
}

/// What a schedule may write, as the server names it, and in words.
pub const FORMATS: &[(&str, &str)] = &[
    (
        "bundle",
        "Archive bundle (.tar.gz, verifiable offline, chained to the last)",
    ),
    ("csv", "CSV (spreadsheets; its head beside it)"),
    ("json", "JSON (states its period and checkpoint)"),
    ("ndjson", "NDJSON (Splunk, Elastic; its head beside it)"),
    ("pdf", "PDF report (at most 100,000 entries a period)"),
];

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
                destination: s.destination.clone(),
                directory: s.directory.clone().unwrap_or_default(),
                s3: s.s3.as_ref().map(|d| S3Spec {
                    endpoint: d.endpoint.clone(),
                    region: d.region.clone(),
                    bucket: d.bucket.clone(),
                    prefix: d.prefix.clone(),
                    path_style: d.path_style,
                    access_key_id: None,
                    secret_access_key: None,
                    lock_mode: d.lock_mode.clone(),
                    lock_days: d.lock_days,
                }),
                enabled: s.enabled,
            },
        ),
        Editing::New { filter, format } => (
            None,
            ScheduleSpec {
                name: String::new(),
                cadence: "monthly".into(),
                cron: None,
                zone: crate::time_zone::browser_zone().unwrap_or_else(|| "UTC".into()),
                filter: filter.clone(),
                format: format.clone(),
                destination: "directory".into(),
                directory: "monthly".into(),
                s3: None,
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
    let format = RwSignal::new(start.format);
    let credentials_set =
        matches!(&editing, Editing::Change(s) if s.s3.as_ref().is_some_and(|d| d.credentials_set));
    // A new schedule's folder follows its cadence until it is typed in.
    let folder_typed = RwSignal::new(id.is_some());
    let directory = RwSignal::new(start.directory);
    let destination = RwSignal::new(start.destination);
    let s3 = start.s3.unwrap_or_else(|| S3Spec {
        region: "us-east-1".into(),
        lock_mode: "COMPLIANCE".into(),
        lock_days: 400,
        ..S3Spec::default()
    });
    let endpoint = RwSignal::new(s3.endpoint);
    let region = RwSignal::new(s3.region);
    let bucket = RwSignal::new(s3.bucket);
    let prefix = RwSignal::new(s3.prefix);
    let path_style = RwSignal::new(s3.path_style);
    let access_key = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let lock_mode = RwSignal::new(s3.lock_mode);
    let lock_days = RwSignal::new(s3.lock_days.to_string());
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
            format: format.get_untracked(),
            destination: destination.get_untracked(),
            directory: directory.get_untracked(),
            s3: (destination.get_untracked() == "s3").then(|| S3Spec {
                endpoint: endpoint.get_untracked(),
                region: region.get_untracked(),
                bucket: bucket.get_untracked(),
                prefix: prefix.get_untracked(),
                path_style: path_style.get_untracked(),
                access_key_id: Some(access_key.get_untracked()).filter(|v| !v.is_empty()),
                secret_access_key: Some(secret.get_untracked()).filter(|v| !v.is_empty()),
                lock_mode: lock_mode.get_untracked(),
                // Not a number: 0, which the server refuses saying what it takes.
                lock_days: lock_days.get_untracked().trim().parse().unwrap_or(0),
            }),
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
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            if !folder_typed.get_untracked() && v != "cron" {
                                directory.set(v.clone());
                            }
                            cadence.set(v);
                        }>
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
                    <select name="format" data-testid="schedule-format"
                        on:change=move |ev| format.set(event_target_value(&ev))>
                        {FORMATS.iter().map(|(value, words)| view! {
                            <option value=*value selected=move || format.get() == *value>{*words}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    <span>"Destination"</span>
                    <select name="destination" data-testid="schedule-destination"
                        on:change=move |ev| destination.set(event_target_value(&ev))>
                        <option value="directory" selected=move || destination.get() == "directory">
                            "A folder on the server"
                        </option>
                        <option value="s3" selected=move || destination.get() == "s3">
                            "An S3-compatible bucket (Object Lock)"
                        </option>
                    </select>
                </label>
            </div>
            <Show when=move || destination.get() == "directory">
                <label>
                    <span>"Folder"</span>
                    <input type="text" name="directory" maxlength="200" data-testid="schedule-folder"
                        aria-describedby="folder-help"
                        prop:value=move || directory.get()
                        on:input=move |ev| {
                            folder_typed.set(true);
                            directory.set(event_target_value(&ev));
                        }/>
                    <small id="folder-help" class="muted">
                        "inside the server's export directory (TRAILKEEP_EXPORT_DIR)"
                    </small>
                </label>
            </Show>
            <Show when=move || destination.get() == "s3">
                <fieldset class="s3-fields" data-testid="schedule-s3">
                    <legend>"S3-compatible bucket"</legend>
                    <div class="form-row">
                        <label>
                            <span>"Endpoint"</span>
                            <input type="url" name="s3-endpoint" data-testid="s3-endpoint"
                                placeholder="https://s3.eu-central-1.amazonaws.com"
                                prop:value=move || endpoint.get()
                                on:input=move |ev| endpoint.set(event_target_value(&ev))/>
                        </label>
                        <label>
                            <span>"Region"</span>
                            <input type="text" name="s3-region" data-testid="s3-region"
                                prop:value=move || region.get()
                                on:input=move |ev| region.set(event_target_value(&ev))/>
                        </label>
                    </div>
                    <div class="form-row">
                        <label>
                            <span>"Bucket"</span>
                            <input type="text" name="s3-bucket" data-testid="s3-bucket"
                                placeholder="audit-archive"
                                prop:value=move || bucket.get()
                                on:input=move |ev| bucket.set(event_target_value(&ev))/>
                        </label>
                        <label>
                            <span>"Key prefix"</span>
                            <input type="text" name="s3-prefix" data-testid="s3-prefix"
                                placeholder="trailkeep/monthly"
                                prop:value=move || prefix.get()
                                on:input=move |ev| prefix.set(event_target_value(&ev))/>
                        </label>
                    </div>
                    <label class="checkbox">
                        <input type="checkbox" name="s3-path-style" data-testid="s3-path-style"
                            prop:checked=move || path_style.get()
                            on:change=move |ev| path_style.set(event_target_checked(&ev))/>
                        <span>"Path-style addressing (endpoint/bucket/key: most self-hosted stores)"</span>
                    </label>
                    <div class="form-row">
                        <label>
                            <span>"Access key ID"</span>
                            <input type="text" name="s3-access-key" data-testid="s3-access-key"
                                autocomplete="off"
                                placeholder=if credentials_set { "set (type to replace)" } else { "" }
                                prop:value=move || access_key.get()
                                on:input=move |ev| access_key.set(event_target_value(&ev))/>
                        </label>
                        <label>
                            <span>"Secret access key"</span>
                            <input type="password" name="s3-secret" data-testid="s3-secret"
                                autocomplete="new-password" aria-describedby="s3-secret-help"
                                placeholder=if credentials_set { "set (type to replace)" } else { "" }
                                prop:value=move || secret.get()
                                on:input=move |ev| secret.set(event_target_value(&ev))/>
                        </label>
                    </div>
                    <small id="s3-secret-help" class="muted">
                        "Stored encrypted under the server's key file and never shown again. \
                         Changing the endpoint, the bucket or the addressing asks for them again."
                    </small>
                    <div class="form-row">
                        <label>
                            <span>"Object Lock"</span>
                            <select name="s3-lock-mode" data-testid="s3-lock-mode"
                                on:change=move |ev| lock_mode.set(event_target_value(&ev))>
                                <option value="COMPLIANCE" selected=move || lock_mode.get() == "COMPLIANCE">
                                    "Compliance: nobody can delete before the date"
                                </option>
                                <option value="GOVERNANCE" selected=move || lock_mode.get() == "GOVERNANCE">
                                    "Governance: only a privileged bypass can"
                                </option>
                            </select>
                        </label>
                        <label>
                            <span>"Keep locked for (days)"</span>
                            <input type="number" name="s3-lock-days" min="1" max="36500"
                                data-testid="s3-lock-days"
                                prop:value=move || lock_days.get()
                                on:input=move |ev| lock_days.set(event_target_value(&ev))/>
                        </label>
                    </div>
                </fieldset>
            </Show>
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
