//! The Exports page's retention policy: how many months stay in the database, which schedule
//! archives the older ones (only an unfiltered monthly bundle schedule in UTC can: one bundle
//! must hold exactly one month), and the months already dropped with where their bundles are.
//! Admins change it; compliance officers see it. The server checks the policy again, and a
//! month leaves only after its bundle was read back from its destination and verified.

use leptos::prelude::*;
use uuid::Uuid;

use crate::api::exports::{get_retention_policy, list_schedules, save_retention_policy};
use crate::components::LoadFailed;
use crate::exports::{ExportSchedule, RetentionPolicy, RetentionSpec};
use crate::format::thousands;

/// Whether `s` can archive months for retention.
fn fit(s: &ExportSchedule) -> bool {
    s.cadence == "monthly"
        && matches!(s.zone.as_str(), "UTC" | "Etc/UTC")
        && s.format == "bundle"
        && s.filter.is_empty()
}

fn words(p: &RetentionPolicy, schedules: &[ExportSchedule]) -> String {
    match (p.keep_months, p.schedule_id) {
        (Some(k), Some(id)) => {
            let name = schedules.iter().find(|s| s.id == id).map_or_else(
                || "a deleted schedule".to_string(),
                |s| format!("“{}”", s.name),
            );
            format!(
                "The current month and the {k} before it stay in the database. Each older month \
                 is archived by {name}, read back and verified, then dropped from the database."
            )
        }
        _ => "Every month stays in the database: nothing is dropped.".to_string(),
    }
}

#[component]
pub fn RetentionPolicyPanel(admin: bool, changed: RwSignal<u32>) -> impl IntoView {
    let data = Resource::new(
        move || changed.get(),
        |_| async {
            Ok::<_, crate::error::ConsoleError>((
                get_retention_policy().await?,
                list_schedules().await?,
            ))
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="state-message">"Loading the policy…"</p> }>
            {move || data.get().map(|r| match r {
                Ok((policy, schedules)) => view! {
                    <RetentionView policy schedules admin changed/>
                }.into_any(),
                Err(e) => view! { <LoadFailed message=e.to_string() changed/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn RetentionView(
    policy: RetentionPolicy,
    schedules: Vec<ExportSchedule>,
    admin: bool,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let summary = words(&policy, &schedules);
    let updated = policy.updated_at.map(|at| {
        format!(
            "Changed {} by {}.",
            at.format("%Y-%m-%d %H:%M UTC"),
            policy.updated_by.clone().unwrap_or_default()
        )
    });
    let dropped = policy
        .archived
        .iter()
        .map(|p| {
            view! {
                <li data-testid="dropped-month">
                    {format!("{}: {} entries (seqs {} – {}) in ", p.month,
                        thousands(p.end_seq - p.first_seq), p.first_seq, p.end_seq - 1)}
                    <code class="object-location" title=format!("SHA-256 {}", p.sha256)>{p.location.clone()}</code>
                </li>
            }
        })
        .collect_view();
    let any_dropped = !policy.archived.is_empty();
    view! {
        <div class="retention-policy" data-testid="retention-policy">
            <p data-testid="retention-summary">{summary}</p>
            {updated.map(|u| view! { <p class="muted">{u}</p> })}
            {any_dropped.then(|| view! {
                <p>"Dropped from the database (their entries are in these bundles):"</p>
                <ul class="dropped-months">{dropped}</ul>
            })}
            {admin.then(|| view! { <RetentionForm policy schedules changed/> })}
        </div>
    }
}

#[component]
fn RetentionForm(
    policy: RetentionPolicy,
    schedules: Vec<ExportSchedule>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let eligible: Vec<ExportSchedule> = schedules.into_iter().filter(fit).collect();
    let keep = RwSignal::new(policy.keep_months.unwrap_or(13).to_string());
    let schedule = RwSignal::new(
        policy
            .schedule_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    );
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let schedule_id = schedule.get_untracked().parse::<Uuid>().ok();
        let keep_months = match schedule_id {
            None => None,
            Some(_) => match keep.get_untracked().trim().parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    error.set(Some(
                        "Give the months to keep as a whole number from 1 to 1200.".into(),
                    ));
                    return;
                }
            },
        };
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match save_retention_policy(RetentionSpec {
                keep_months,
                schedule_id,
            })
            .await
            {
                Ok(_) => changed.update(|n| *n += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    let options = eligible
        .iter()
        .map(|s| view! { <option value=s.id.to_string()>{s.name.clone()}</option> })
        .collect_view();
    let none_eligible = eligible.is_empty();
    view! {
        <form class="retention-form" on:submit=submit data-testid="retention-form">
            <div class="retention-fields">
                <label for="retention-schedule">"Archive older months with"</label>
                <select id="retention-schedule" data-testid="retention-schedule"
                    prop:value=move || schedule.get()
                    on:change=move |ev| schedule.set(event_target_value(&ev))>
                    <option value="">"— keep every month —"</option>
                    {options}
                </select>
                <label for="retention-keep">"Months kept besides the current one"</label>
                <input id="retention-keep" type="number" inputmode="numeric" min="1" max="1200"
                    step="1" data-testid="retention-keep"
                    prop:value=move || keep.get()
                    on:input=move |ev| keep.set(event_target_value(&ev))/>
            </div>
            {none_eligible.then(|| view! {
                <p class="muted">"No schedule can archive for retention yet: make one that is \
                   monthly, in UTC, an archive bundle, with no filter."</p>
            })}
            <p class="form-error" role="alert" data-testid="retention-error">{move || error.get()}</p>
            <button type="submit" class="primary" data-testid="retention-save"
                disabled=move || busy.get()>"Save policy"</button>
        </form>
    }
}
