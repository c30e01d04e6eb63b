//! The table of audit entries.

use leptos::prelude::*;

use crate::model::{ActorType, AuditEntry, Status};

/// `2026-11-25 14:03:07 UTC`
pub fn format_utc(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[component]
pub fn EntryTable(entries: Vec<AuditEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="state-message">"No entries recorded yet."</p> }.into_any();
    }
    let rows = entries
        .into_iter()
        .map(|e| view! { <EntryRow entry=e/> })
        .collect_view();
    view! {
        <div class="table-scroll">
        <table class="entry-table">
            <colgroup>
                <col class="col-ts"/>
                <col class="col-user"/>
                <col class="col-action"/>
                <col class="col-resource"/>
                <col class="col-ip"/>
                <col class="col-status"/>
                <col class="col-details"/>
            </colgroup>
            <thead>
                <tr>
                    <th scope="col">"Timestamp"</th>
                    <th scope="col">"User"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Resource"</th>
                    <th scope="col">"IP Address"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Details"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        </div>
    }
    .into_any()
}

#[component]
fn EntryRow(entry: AuditEntry) -> impl IntoView {
    let failed = entry.status == Status::Failure;
    let actor_label = entry
        .actor
        .name
        .clone()
        .unwrap_or_else(|| entry.actor.id.clone());
    let actor_title = entry
        .actor
        .email
        .clone()
        .unwrap_or_else(|| entry.actor.id.clone());
    let is_key = entry.actor.kind == ActorType::ApiKey;
    let category_class = format!("action-badge cat-{}", entry.category());
    let resource = entry
        .resource
        .as_ref()
        .map(|r| format!("{} {}", r.kind, r.id))
        .unwrap_or_default();
    let summary = entry.details_summary();
    view! {
        <tr class:failure=failed data-seq=entry.seq.to_string()>
            <td class="ts">{format_utc(&entry.occurred_at)}</td>
            <td title=actor_title>
                {is_key.then(|| view! { <span class="key-marker">"API key"</span> " " })}
                {actor_label}
            </td>
            <td><code class=category_class>{entry.action.clone()}</code></td>
            <td class="mono">{resource}</td>
            <td class="mono">{entry.ip.clone().unwrap_or_default()}</td>
            <td>
                <span class={if failed { "status status-failure" } else { "status status-success" }}>
                    {entry.status.as_str()}
                </span>
            </td>
            <td class="details">{summary}</td>
        </tr>
    }
}
