//! The alert rules: what each watches, when it notifies, where, and its state now (ok,
//! pending, firing, muted, disabled); for admins, Change, Mute for an hour (or Unmute) and
//! Delete. A rule's name leads to its filter in the audit log.

use leptos::prelude::*;

use crate::alerts::{AlertRuleView, ChannelView};
use crate::api::alerts::{delete_alert_rule, mute_alert_rule};
use crate::components::rule_form::RuleEditing;
use crate::format::{duration_words, format_utc};

/// When a rule notifies, in words.
pub fn condition_words(r: &AlertRuleView) -> String {
    let secs = |s: Option<u32>| duration_words(i64::from(s.unwrap_or(0)));
    match r.condition.as_str() {
        "every_match" => format!("Every match (gathered {})", secs(r.batch_secs)),
        "absence" => format!("Nothing for {}", secs(r.window_secs)),
        _ => {
            let per = r
                .group_by
                .as_deref()
                .map(|g| format!(" per {g}"))
                .unwrap_or_default();
            format!(
                "≥ {} in {}{per}",
                r.at_least.unwrap_or(0),
                secs(r.window_secs)
            )
        }
    }
}

#[component]
pub fn RuleTable(
    rules: Vec<AlertRuleView>,
    channels: Vec<ChannelView>,
    admin: bool,
    editing: RwSignal<RuleEditing>,
    changed: RwSignal<u32>,
    message: RwSignal<Option<String>>,
) -> impl IntoView {
    if rules.is_empty() {
        return view! {
            <p class="state-message" data-testid="no-rules">
                "No alert rule yet. "
                {admin.then_some("Make one with New rule, or from the audit log's filters: New alert rule.")}
            </p>
        }
        .into_any();
    }
    let rows = rules
        .into_iter()
        .map(|r| {
            let id = r.id;
            let name = r.name.clone();
            let this = r.clone();
            let muted = r.state == "muted";
            let mute = move |_| {
                let until = (!muted).then(|| crate::format::now() + chrono::TimeDelta::hours(1));
                leptos::task::spawn_local(async move {
                    match mute_alert_rule(id, until).await {
                        Ok(_) => changed.update(|n| *n += 1),
                        Err(e) => message.set(Some(e.to_string())),
                    }
                });
            };
            let delete = {
                let name = name.clone();
                move |_| {
                    let sure = window()
                        .confirm_with_message(&format!(
                            "Delete the rule “{name}”? It stops notifying; its alerts stay."
                        ))
                        .unwrap_or(false);
                    if sure {
                        leptos::task::spawn_local(async move {
                            match delete_alert_rule(id).await {
                                Ok(()) => changed.update(|n| *n += 1),
                                Err(e) => message.set(Some(e.to_string())),
                            }
                        });
                    }
                }
            };
            let targets: Vec<String> = r
                .channels
                .iter()
                .filter_map(|c| channels.iter().find(|v| v.id == *c).map(|v| v.name.clone()))
                .collect();
            let state = match r.state.as_str() {
                "firing" if r.firing > 1 => format!("firing ({})", r.firing),
                "muted" => format!(
                    "muted until {}",
                    r.muted_until.map(|t| format_utc(&t)).unwrap_or_default()
                ),
                s => s.to_string(),
            };
            view! {
                <tr data-testid="rule-row">
                    <th scope="row">
                        <a href=format!("/audit?{}", r.filter)>{r.name.clone()}</a>
                    </th>
                    <td><span class=format!("severity severity-{}", r.severity)>{r.severity.clone()}</span></td>
                    <td><code class="filter-text">{if r.filter.is_empty() { "every entry".to_string() } else { r.filter.clone() }}</code></td>
                    <td>{condition_words(&r)}</td>
                    <td>{if targets.is_empty() { "none".to_string() } else { targets.join(", ") }}</td>
                    <td><span class=format!("rule-state state-{}", r.state) data-testid="rule-state">{state}</span></td>
                    {admin.then(|| view! {
                        <td class="row-actions">
                            <button type="button" class="secondary" data-testid="change-rule"
                                aria-label=format!("Change: {}", r.name)
                                on:click=move |_| editing.set(RuleEditing::Change(Box::new(this.clone())))>"Change"</button>
                            <button type="button" class="secondary" data-testid="mute-rule"
                                aria-label=format!("{}: {}", if muted { "Unmute" } else { "Mute 1 h" }, r.name)
                                title=if muted { "Send its alerts again" } else { "Record its alerts for the next hour without sending them" }
                                on:click=mute>{if muted { "Unmute" } else { "Mute 1 h" }}</button>
                            <button type="button" class="danger" data-testid="delete-rule"
                                aria-label=format!("Delete: {}", r.name)
                                on:click=delete>"Delete"</button>
                        </td>
                    })}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="admin-table-wrap">
            <table class="admin-table rule-table" data-testid="rule-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Severity"</th>
                        <th scope="col">"Filter"</th>
                        <th scope="col">"Notifies"</th>
                        <th scope="col">"Channels"</th>
                        <th scope="col">"State"</th>
                        {admin.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
