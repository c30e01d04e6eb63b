//! The panel for one entry (`entry=<id>` in the URL): every field, the request metadata,
//! the integrity fields, `details.changes` as a before/after diff, and the raw JSON; pivots
//! to the entries around it; a note when it was recorded long before or after it occurred.
//! Beside the table from 1280 px, over it below that (the whole screen on a phone).

use leptos::either::EitherOf3;
use leptos::prelude::*;
use serde_json::Value;

use crate::api::get_entry;
use crate::chunks::{when_loaded, Chunk};
use crate::components::{CopyButton, ProofStatus, StatusLabel, ValueFilter};
use crate::console_state::ConsoleNav;
use crate::error::ConsoleError;
use crate::filter::{Exclusion, Filter, TimeBound, TimeWindow};
use crate::format::{duration_words, format_in, format_utc, plain};
use crate::hydration::Hydrated;
use crate::model::{changes, ActorType, AuditEntry, EntryView, Source, Status};

/// A field name in words: `request_id` → `Request id`.
pub fn field_label(key: &str) -> String {
    let words = key.replace(['_', '-'], " ");
    let mut c = words.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// How far either side of an entry the context view looks.
const AROUND_MINUTES: i64 = 15;

/// Everything within ±15 minutes of the entry, with no other filter (the zone and the order
/// are kept: display choices): what happened around it.
pub fn context(f: &Filter, e: &AuditEntry) -> Filter {
    let span = chrono::Duration::minutes(AROUND_MINUTES);
    Filter {
        time: TimeWindow::Between {
            from: Some(TimeBound::Instant(e.occurred_at - span)),
            to: Some(TimeBound::Instant(e.occurred_at + span)),
        },
        ..f.cleared()
    }
}

/// The pivots from an entry: `(label, the filter it leads to)`. "Only this …" keeps the other
/// filters and narrows one dimension to this entry's value; the context drops every filter but
/// the ±15 minutes around it. The entry stays open, so pivots chain; Back returns.
pub fn pivots(f: &Filter, e: &AuditEntry) -> Vec<(&'static str, Filter)> {
    let mut out: Vec<(&'static str, Filter)> = Exclusion::values_of(e)
        .into_iter()
        .filter(|(what, _)| *what != "action")
        .map(|(what, x)| {
            let label = match what {
                "user" => "Only this user",
                "IP" => "Only this IP",
                "resource" => "Only this resource",
                _ => "Only this source",
            };
            (label, f.narrowed(x, false))
        })
        .collect();
    out.push(("Everything ±15 minutes around it", context(f, e)));
    out
}

/// Who recorded the entry, in words: Trailkeep itself, or the API key by name and id. Entries
/// from before Trailkeep kept provenance say so.
pub fn source_line(e: &AuditEntry) -> String {
    match (e.source, &e.source_name) {
        (Some(Source::Trailkeep), _) => "Trailkeep (the server itself)".into(),
        (Some(Source::Key(id)), Some(name)) => format!("API key “{name}” ({id})"),
        (Some(Source::Key(id)), None) => format!("API key {id}"),
        (None, _) => "Not recorded (entry from before Trailkeep kept provenance)".into(),
    }
}

/// What the panel shows: the entry, `None` when no entry has that id.
type EntryResource = Resource<Result<Option<EntryView>, ConsoleError>>;

/// The panel for the entry named in the URL (mounted, in the browser, while there is one).
/// Its code is a chunk of its own, fetched when an entry is first opened.
#[component]
pub fn EntryDetail() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    // Closed (Close, Escape), the focus goes back to what opened it (the table).
    crate::components::return_focus_on_close();
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
                    data-testid="close-detail" on:click=move |_| nav.close_entry()><span aria-hidden="true">"× "</span>"Close"</button>
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
                Ok(Some(e)) => EitherOf3::A(view! { <EntryFields shown=e/> }),
                Ok(None) => EitherOf3::B(view! {
                    <p class="state-message" role="alert">"No entry with this id."</p>
                }),
                Err(e) => EitherOf3::C(view! {
                    <div class="state-message error" role="alert">
                        <p>{e.to_string()}</p>
                        <button type="button" class="secondary" on:click=move |_| entry.refetch()>"Retry"</button>
                    </div>
                }),
            })}
        </Transition>
    }
}

#[component]
fn EntryFields(shown: EntryView) -> impl IntoView {
    let imported = shown.late_as_imported();
    let EntryView {
        entry,
        recorded_late_seconds,
        late_threshold_seconds,
        ..
    } = shown;
    let nav = expect_context::<ConsoleNav>();
    // The labels now; each pivot's filter at the click, from the filter as it is then.
    let pivot_labels: Vec<(usize, &'static str)> = pivots(&nav.filter_untracked(), &entry)
        .into_iter()
        .map(|(label, _)| label)
        .enumerate()
        .collect();
    let for_pivots = StoredValue::new(entry.clone());
    let sender = entry
        .source_name
        .clone()
        .unwrap_or_else(|| "its key".to_string());
    let late_note = recorded_late_seconds.map(|gap| {
        if imported {
            // Expected of a history import: said plainly, not as a warning.
            return view! {
                <p class="late-note imported" role="note" data-testid="late-note" data-imported="true">
                    {format!(
                        "Imported history: recorded {} after it occurred, sent by “{sender}”, a key that imports past events.",
                        duration_words(gap)
                    )}
                </p>
            }
            .into_any();
        }
        let words = if gap >= 0 {
            format!("Recorded {} after it occurred", duration_words(gap))
        } else {
            format!("Recorded {} before the time it says it occurred", duration_words(gap))
        };
        view! {
            <p class="late-note" role="note" data-testid="late-note">
                <strong>"Note: "</strong>{words}
                <span class="muted">{format!(" (more than {} apart: a clock that is off, or an event sent late).", duration_words(late_threshold_seconds))}</span>
            </p>
        }
        .into_any()
    });
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
        .map(|m| m.iter().map(|(k, v)| (field_label(k), plain(v))).collect())
        .unwrap_or_default();
    let other_details: Vec<(String, String)> = entry
        .details
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "changes" | "request"))
                .map(|(k, v)| (field_label(k), plain(v)))
                .collect()
        })
        .unwrap_or_default();
    let actor_kind = match entry.actor.kind {
        ActorType::User => "User",
        ActorType::ApiKey => "API key",
        ActorType::System => "System",
    };
    let source = source_line(&entry);
    // = and ≠ beside the values a filter can hold.
    let values = Exclusion::values_of(&entry);
    let value_filter = move |what: &'static str, label: String| {
        values
            .iter()
            .find(|(w, _)| *w == what)
            .map(|(_, x)| view! { <ValueFilter value=x.clone() label/> })
    };
    let context_of = entry.clone();
    let link_to_entry = move || {
        let f = context(&nav.filter_untracked(), &context_of);
        let origin = window().location().origin().unwrap_or_default();
        format!(
            "{origin}{}",
            crate::console_state::console_url(&f, Some(context_of.id), false)
        )
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
                {value_filter("action", format!("action {}", entry.action))}
                <StatusLabel failed/>
                <CopyButton text=link_to_entry label="Copy link to this entry" testid="copy-entry-link"/>
            </p>
            <nav class="pivots" aria-label="Show entries like this one">
                {pivot_labels.into_iter().map(|(i, label)| view! {
                    <button type="button" class="secondary small"
                        on:click=move |_| nav.update_filter_keeping_entry(|now| {
                            if let Some((_, f)) = for_pivots.with_value(|e| pivots(now, e)).into_iter().nth(i) {
                                *now = f;
                            }
                        })>{label}</button>
                }).collect_view()}
            </nav>
            {late_note}
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
                        {value_filter("user", format!("user {}", entry.actor.name.clone().unwrap_or_else(|| entry.actor.id.clone())))}
                    </dd>
                    <dt>"Actor id"</dt>
                    <dd class="mono">{entry.actor.id.clone()}</dd>
                    <dt>"Email"</dt>
                    <dd>{entry.actor.email.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Resource"</dt>
                    <dd class="mono">{entry.resource.as_ref().map(|r| format!("{}:{}", r.kind, r.id)).unwrap_or_else(|| "—".into())}
                        {value_filter("resource", entry.resource.as_ref().map(|r| format!("resource {}:{}", r.kind, r.id)).unwrap_or_default())}</dd>
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
                    <dd class="mono">{entry.ip.clone().unwrap_or_else(|| "—".into())}
                        {value_filter("IP", format!("IP {}", entry.ip.clone().unwrap_or_default()))}</dd>
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
                    <dt>"Recorded by"</dt>
                    <dd><span data-testid="detail-source">{source}</span>
                        {value_filter("source", "this source".to_string())}</dd>
                    <dt>"Sequence"</dt>
                    <dd class="mono" data-testid="detail-seq">{entry.seq}</dd>
                    <dt>"Leaf hash"</dt>
                    <dd class="mono wrap">{entry.leaf_hash.clone()}</dd>
                    <dt>"Proof"</dt>
                    <ProofStatus seq=entry.seq leaf_hash=entry.leaf_hash.clone()/>
                    <dt>"Entry id"</dt>
                    <dd class="mono">{entry.id.to_string()}</dd>
                    <dt>"Hashed form"</dt>
                    <dd>{format!("Form {}", entry.form)}</dd>
                </dl>
            </section>
            <EntryAlerts seq=entry.seq/>
            <section>
                <div class="section-heading">
                    <h3>"Raw JSON"</h3>
                    <CopyButton text=move || raw_for_copy.clone() label="Copy JSON" testid="copy-json"/>
                </div>
                <pre class="raw-json" tabindex="0" aria-label="Raw JSON of the entry">{raw}</pre>
            </section>
        </div>
    }
}

/// The alerts this entry is one of the entries of, each leading to its entries and to its
/// deliveries (shown only when there are some).
#[component]
fn EntryAlerts(seq: i64) -> impl IntoView {
    let alerts = Resource::new(
        move || seq,
        |seq| crate::api::alerts::list_alerts(None, Some(seq)),
    );
    view! {
        <Transition fallback=|| ()>
            {move || alerts.get().and_then(Result::ok).filter(|l| !l.is_empty()).map(|list| view! {
                <section data-testid="entry-alerts">
                    <h3>"Alerts"</h3>
                    {(list.len() >= crate::alerts::ALERTS_SHOWN).then(|| view! {
                        <p class="muted">{format!(
                            "The {} newest are shown; GET /api/v1/alerts?seq={seq} lists them all.",
                            crate::alerts::ALERTS_SHOWN
                        )}</p>
                    })}
                    <ul class="entry-alerts">
                        {list.into_iter().map(|a| view! {
                            <li>
                                <strong>{a.rule_name.clone()}</strong>
                                {format!(
                                    " {} {}{}: {} entries. ",
                                    a.kind,
                                    crate::format::format_utc(&a.at),
                                    a.group.as_ref().map(|g| format!(" for {g}")).unwrap_or_default(),
                                    a.count
                                )}
                                <a href=a.link.clone() data-testid="entry-alert-entries">"Its entries"</a>
                                " · "
                                <a href=format!("/alerts?alert={}#delivery-log", a.id) data-testid="entry-alert-deliveries">"Its deliveries"</a>
                            </li>
                        }).collect_view()}
                    </ul>
                </section>
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_pivots() {
        assert_eq!(field_label("request_id"), "Request id");
        assert_eq!(field_label("reason"), "Reason");
        let e: AuditEntry = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001", "seq": 4,
            "occurred_at": "2026-11-25T10:00:00Z", "recorded_at": "2026-11-25T10:00:01Z",
            "action": "config.updated",
            "actor": {"type": "user", "id": "u_1", "name": "Ada", "email": "ada@example.com"},
            "resource": {"type": "config", "id": "cfg_7"}, "ip": "203.0.113.7",
            "user_agent": null, "status": "success", "details": {}, "leaf_hash": "00",
            "source": "0f8a2c1e-5b7d-4e3f-9a6b-1c2d3e4f5a6b", "source_name": "Billing", "form": 2
        }))
        .unwrap();
        let f = Filter::parse("status=success&user=someone").unwrap();
        let got: Vec<(&str, String)> = pivots(&f, &e)
            .into_iter()
            .map(|(l, f)| (l, f.to_query_string()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "Only this user",
                    "status=success&user=ada@example.com".to_string()
                ),
                (
                    "Only this IP",
                    "ip=203.0.113.7&status=success&user=someone".to_string()
                ),
                (
                    "Only this resource",
                    "resource=config:cfg_7&status=success&user=someone".to_string()
                ),
                (
                    "Only this source",
                    "source=0f8a2c1e-5b7d-4e3f-9a6b-1c2d3e4f5a6b&status=success&user=someone"
                        .to_string()
                ),
                (
                    "Everything ±15 minutes around it",
                    "from=2026-11-25T09:45:00Z&to=2026-11-25T10:15:00Z".to_string()
                ),
            ]
        );
        assert_eq!(
            source_line(&e),
            "API key “Billing” (0f8a2c1e-5b7d-4e3f-9a6b-1c2d3e4f5a6b)"
        );
    }
}
