//! The side panel for one entry (`entry=<id>` in the URL): every field, the request metadata,
//! the integrity fields, `details.changes` as a before/after diff, and the raw JSON.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use serde_json::Value;

use crate::api::{error_text, get_entry};
use crate::chunks::{when_loaded, Chunk};
use crate::components::CopyButton;
use crate::console_state::ConsoleNav;
use crate::model::{ActorType, AuditEntry, Status};
use crate::time_zone::{format_in, format_utc};
use crate::Hydrated;

/// A JSON value as one readable line (strings without quotes).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// `(field, before, after)` of `details.changes`, by field name.
pub fn changes(details: &Value) -> Vec<(String, String, String)> {
    let Some(map) = details.get("changes").and_then(Value::as_object) else {
        return Vec::new();
    };
    map.iter()
        .map(|(field, change)| {
            let side = |k: &str| change.get(k).map(plain).unwrap_or_else(|| "—".into());
            (field.clone(), side("before"), side("after"))
        })
        .collect()
}

/// What the panel shows: the entry, `None` when no entry has that id.
type EntryResource = Resource<Result<Option<AuditEntry>, ServerFnError>>;

/// The panel for the entry named in the URL (mounted, in the browser, while there is one).
/// Its code is a chunk of its own, fetched when an entry is first opened.
#[component]
pub fn EntryDetail() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    // Moving to another entry keeps the panel, showing the old entry until the new one is in.
    let id = Memo::new(move |_| nav.query.with(|q| q.entry));
    let entry: EntryResource = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => get_entry(id).await,
                None => Ok(None),
            }
        },
    );
    view! {
        <aside class="entry-detail" aria-label="Entry detail" data-testid="entry-detail">
            <header class="detail-header">
                <h2>"Entry detail"</h2>
                <button type="button" class="icon-button" aria-label="Close detail (Escape)"
                    data-testid="close-detail" on:click=move |_| nav.close_entry()>"×"</button>
            </header>
            {when_loaded(Box::pin(entry_panel(entry)))}
        </aside>
    }
}

#[wasm_split_helpers::wasm_split(entry_panel, fallible)]
fn entry_panel(entry: EntryResource) -> Chunk {
    Ok(view! { <EntryPanel entry/> }.into_any())
}

#[component]
fn EntryPanel(entry: EntryResource) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="state-message">"Loading entry…"</p> }>
            {move || entry.get().map(|r| match r {
                Ok(Some(e)) => EitherOf3::A(view! { <EntryFields entry=e/> }),
                Ok(None) => EitherOf3::B(view! {
                    <p class="state-message" role="alert">"No entry with this id."</p>
                }),
                Err(e) => EitherOf3::C(view! {
                    <div class="state-message error" role="alert">
                        <p>{error_text(&e)}</p>
                        <button type="button" class="secondary" on:click=move |_| entry.refetch()>"Retry"</button>
                    </div>
                }),
            })}
        </Transition>
    }
}

#[component]
fn EntryFields(entry: AuditEntry) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    let at = entry.occurred_at;
    let zoned = move || {
        let tz = nav.filter().tz;
        (hydrated.get() && tz.is_some()).then(|| format_in(&at, tz.as_deref()))
    };
    let failed = entry.status == Status::Failure;
    let raw = serde_json::to_string_pretty(&entry).unwrap_or_default();
    let raw_for_copy = raw.clone();
    let diff = changes(&entry.details);
    let request: Vec<(String, String)> = entry
        .details
        .get("request")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        .unwrap_or_default();
    let other_details: Vec<(String, String)> = entry
        .details
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "changes" | "request"))
                .map(|(k, v)| (k.clone(), plain(v)))
                .collect()
        })
        .unwrap_or_default();
    let actor_kind = match entry.actor.kind {
        ActorType::User => "User",
        ActorType::ApiKey => "API key",
        ActorType::System => "System",
    };
    let pairs = |list: Vec<(String, String)>| {
        list.into_iter()
            .map(|(k, v)| view! { <dt>{k}</dt> <dd class="mono">{v}</dd> })
            .collect_view()
    };
    view! {
        <div class="detail-body">
            <p class="detail-title">
                <code class=format!("action-badge cat-{}", entry.category())>{entry.action.clone()}</code>
                <span class={if failed { "status status-failure" } else { "status status-success" }}>
                    {if failed { "✕ failure" } else { "success" }}
                </span>
            </p>
            <section>
                <h3>"Event"</h3>
                <dl>
                    <dt>"Occurred"</dt>
                    <dd><time datetime=at.to_rfc3339()>{format_utc(&at)}</time>
                        {move || zoned().map(|z| view! { <br/><span class="muted">{z}</span> })}</dd>
                    <dt>"Recorded"</dt>
                    <dd>{format_utc(&entry.recorded_at)}</dd>
                    <dt>"Actor"</dt>
                    <dd>
                        {entry.actor.name.clone().unwrap_or_else(|| entry.actor.id.clone())}
                        <span class="muted">" · " {actor_kind}</span>
                    </dd>
                    <dt>"Actor id"</dt>
                    <dd class="mono">{entry.actor.id.clone()}</dd>
                    <dt>"Email"</dt>
                    <dd>{entry.actor.email.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Resource"</dt>
                    <dd class="mono">{entry.resource.as_ref().map(|r| format!("{}:{}", r.kind, r.id)).unwrap_or_else(|| "—".into())}</dd>
                </dl>
            </section>
            {(!diff.is_empty()).then(|| view! {
                <section>
                    <h3>"Changes"</h3>
                    <table class="diff" data-testid="changes-diff">
                        <thead><tr><th scope="col">"Field"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                        <tbody>
                            {diff.into_iter().map(|(field, before, after)| view! {
                                <tr>
                                    <th scope="row" class="mono">{field}</th>
                                    <td class="diff-before"><del>{before}</del></td>
                                    <td class="diff-after"><ins>{after}</ins></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
            })}
            <section>
                <h3>"Request"</h3>
                <dl>
                    <dt>"IP address"</dt>
                    <dd class="mono">{entry.ip.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"User agent"</dt>
                    <dd class="mono wrap">{entry.user_agent.clone().unwrap_or_else(|| "—".into())}</dd>
                    {pairs(request)}
                </dl>
            </section>
            {(!other_details.is_empty()).then(|| view! {
                <section>
                    <h3>"Details"</h3>
                    <dl>{pairs(other_details)}</dl>
                </section>
            })}
            <section>
                <h3>"Integrity"</h3>
                <dl>
                    <dt>"Sequence"</dt>
                    <dd class="mono" data-testid="detail-seq">{entry.seq}</dd>
                    <dt>"Leaf hash"</dt>
                    <dd class="mono wrap">{entry.leaf_hash.clone()}</dd>
                    <dt>"Entry id"</dt>
                    <dd class="mono">{entry.id.to_string()}</dd>
                </dl>
            </section>
            <section>
                <div class="section-heading">
                    <h3>"Raw JSON"</h3>
                    <CopyButton text=move || raw_for_copy.clone() label="Copy JSON" testid="copy-json"/>
                </div>
                <pre class="raw-json">{raw}</pre>
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_become_rows() {
        let d = serde_json::json!({"changes": {"retention_days": {"before": 30, "after": 90},
                                                "mode": {"before": "open", "after": null}}});
        assert_eq!(
            changes(&d),
            vec![
                ("mode".to_string(), "open".to_string(), "—".to_string()),
                (
                    "retention_days".to_string(),
                    "30".to_string(),
                    "90".to_string()
                ),
            ]
        );
        assert!(changes(&serde_json::json!({})).is_empty());
    }
}
