//! One row of the table and its key. A row is drawn from its entry alone (plus the selection,
//! the open entry and the zone), so the table can drop and redraw rows freely as they scroll
//! in and out of view.

use leptos::prelude::*;

use crate::components::ValueFilter;
use crate::console_state::ConsoleNav;
use crate::filter::Exclusion;
use crate::format::format_wall;
use crate::model::{ActorType, AuditEntry, Status};

/// The key of a row among the rows in view: its index among the loaded rows and its entry, so a
/// row that live arrivals push down is drawn again at its new place.
pub fn row_key((index, entry): &(usize, AuditEntry)) -> (usize, i64) {
    (*index, entry.seq)
}

/// One entry as a row: the time (in the URL's zone once interactive), who, what, on what,
/// from where, whether it failed, and a summary of the details. A click selects and opens it;
/// the = and ≠ that appear on a user, action or IP cell under the pointer filter by its value
/// or leave it out instead.
#[component]
pub fn EntryRow(
    entry: AuditEntry,
    index: usize,
    selected: RwSignal<Option<i64>>,
    open_id: Memo<Option<uuid::Uuid>>,
    tz: Memo<Option<String>>,
    hydrated: RwSignal<bool>,
    /// Entries that just arrived live (briefly highlighted).
    fresh: RwSignal<Vec<i64>>,
) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let failed = entry.status == Status::Failure;
    let seq = entry.seq;
    let id = entry.id;
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
    let resource_title = entry
        .resource
        .as_ref()
        .map(|r| format!("{}:{}", r.kind, r.id))
        .unwrap_or_default();
    let resource = entry.resource.as_ref().map(|r| {
        view! { <span class="resource-type">{r.kind.clone()}</span> " " <span class="mono">{r.id.clone()}</span> }
    });
    let values = Exclusion::values_of(&entry);
    let value_filter = move |what: &'static str, label: String| {
        values
            .iter()
            .find(|(w, _)| *w == what)
            .map(|(_, x)| view! { <ValueFilter value=x.clone() label in_row=true/> })
    };
    let ip = entry.ip.clone().unwrap_or_default();
    let summary = entry.details_summary();
    let summary_title = summary.clone();
    let at = entry.occurred_at;
    // The server renders UTC; the browser switches to the URL's zone once interactive. The
    // header names the zone, so the cells do not repeat it.
    let timestamp = move || {
        let zone = if hydrated.get() { tz.get() } else { None };
        format_wall(&at, zone.as_deref())
    };
    view! {
        <tr
            class:failure=failed
            class:fresh=move || fresh.with(|f| f.contains(&seq))
            class:selected=move || selected.get() == Some(seq)
            class:open=move || open_id.get() == Some(id)
            aria-rowindex=index + 2
            data-seq=seq.to_string()
            on:click=move |ev| {
                // The = and ≠ on a cell act on the filter, not on the row.
                let on_value = ev
                    .target()
                    .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
                    .and_then(|el| el.closest(".value-filter").ok().flatten())
                    .is_some();
                if on_value {
                    return;
                }
                selected.set(Some(seq));
                nav.open_entry(id);
            }
        >
            <td class="ts"><time datetime=at.to_rfc3339()>{timestamp}</time></td>
            <td class="has-values" title=format!("{actor_label} · {actor_title}")>
                <span class="clip">
                    {is_key.then(|| view! { <span class="key-marker">"API key"</span> " " })}
                    {actor_label.clone()}
                </span>
                {value_filter("user", format!("user {actor_label}"))}
            </td>
            <td class="has-values" title=entry.action.clone()>
                <span class="clip"><code class=category_class>{entry.action.clone()}</code></span>
                {value_filter("action", format!("action {}", entry.action))}
            </td>
            <td class="opt" title=resource_title><span class="clip">{resource}</span></td>
            <td class="mono opt has-values">{ip.clone()}{value_filter("IP", format!("IP {ip}"))}</td>
            <td class="status-cell"><StatusLabel failed/></td>
            <td class="details opt" title=summary_title><span class="clip">{summary}</span></td>
        </tr>
    }
}

/// "✓ Success" / "✕ Failed": an icon and a word, never colour alone.
#[component]
pub fn StatusLabel(failed: bool) -> impl IntoView {
    let (class, icon, word) = if failed {
        ("status status-failure", "✕ ", "Failed")
    } else {
        ("status status-success", "✓ ", "Success")
    };
    view! { <span class=class><span aria-hidden="true">{icon}</span>{word}</span> }
}
