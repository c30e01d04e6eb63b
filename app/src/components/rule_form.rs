//! The form that makes or changes an alert rule: its name and severity, the audit log's filter
//! it watches (built with the audit log's own search box, pickers and chips, acting on the
//! form instead of the address; "New alert rule" on the audit log carries its filter here;
//! the filter as text is there too, for configuration as code), when it
//! notifies (every match, batched; at least N within a window, per group, held for a pending
//! period and resolved after a cool-down; or no match for a window), and the channels it
//! notifies. "Preview" runs it over the last 7 days of the log, by the evaluator's own
//! machine, and says how often it would have fired. The server checks every field and says
//! how to fix a refused one.

use leptos::prelude::*;
use leptos::reactive::computed::suspense::SuspenseContext;

use crate::alerts::{AlertRuleSpec, AlertRuleView, ChannelView, RulePreview};
use crate::api::alerts::{preview_alert_rule, save_alert_rule};
use crate::components::{ChipWords, FilterBar, FilterChips, SearchBar};
use crate::console_state::ConsoleNav;

/// What the rule form is doing: closed, making a new rule (from a filter), or changing one.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleEditing {
    Closed,
    New { filter: String },
    Change(Box<AlertRuleView>),
}

/// Minutes as the form shows them (empty when unset).
fn minutes(secs: Option<u32>) -> String {
    secs.map(|s| (s / 60).to_string()).unwrap_or_default()
}

/// A number typed into the form: seconds from minutes (`scale` 60) or as typed; `None` when
/// empty. Not a number: `Some(0)`, which the server refuses with words that say what it takes.
fn number(text: &str, scale: u32) -> Option<u32> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.parse::<u32>().map_or(0, |n| n.saturating_mul(scale)))
}

/// The rule's filter, built as on the audit log: the search box, the pickers (no time range:
/// a rule watches what is recorded from now on) and the chips, all acting on `search`.
#[component]
fn RuleFilter(search: RwSignal<String>) -> impl IntoView {
    // As on the audit log: what the pickers read never suspends the page around them.
    provide_context(SuspenseContext {
        tasks: ArcRwSignal::new(slotmap::SlotMap::new()),
    });
    let nav = ConsoleNav::in_place(search);
    provide_context(nav);
    provide_context(ChipWords::new(nav));
    view! {
        <SearchBar/>
        <FilterBar without_time=true/>
        <FilterChips/>
    }
}

#[component]
pub fn RuleForm(
    editing: RuleEditing,
    done: RwSignal<RuleEditing>,
    changed: RwSignal<u32>,
    /// The channels to choose from (a channel made while the form is open appears in it).
    channels: Signal<Vec<ChannelView>>,
) -> impl IntoView {
    let (id, start) = match &editing {
        RuleEditing::Change(r) => (
            Some(r.id),
            AlertRuleSpec {
                name: r.name.clone(),
                severity: r.severity.clone(),
                filter: r.filter.clone(),
                condition: r.condition.clone(),
                batch_secs: r.batch_secs,
                at_least: r.at_least,
                window_secs: r.window_secs,
                group_by: r.group_by.clone(),
                pending_secs: r.pending_secs,
                cooldown_secs: r.cooldown_secs,
                enabled: r.enabled,
                channels: r.channels.clone(),
            },
        ),
        RuleEditing::New { filter } => (
            None,
            AlertRuleSpec {
                name: String::new(),
                severity: "warning".into(),
                filter: filter.clone(),
                condition: "threshold".into(),
                batch_secs: Some(30),
                at_least: Some(5),
                window_secs: Some(600),
                group_by: None,
                pending_secs: Some(0),
                cooldown_secs: Some(300),
                enabled: true,
                channels: channels.with_untracked(|list| {
                    list.iter().filter(|c| c.enabled).map(|c| c.id).collect()
                }),
            },
        ),
        RuleEditing::Closed => return None,
    };
    let name = RwSignal::new(start.name);
    let severity = RwSignal::new(start.severity);
    let filter = RwSignal::new(start.filter);
    let condition = RwSignal::new(start.condition);
    let batch = RwSignal::new(start.batch_secs.map(|s| s.to_string()).unwrap_or_default());
    let at_least = RwSignal::new(start.at_least.map(|n| n.to_string()).unwrap_or_default());
    let window = RwSignal::new(minutes(start.window_secs));
    let group_by = RwSignal::new(start.group_by.unwrap_or_default());
    let pending = RwSignal::new(minutes(start.pending_secs));
    let cooldown = RwSignal::new(minutes(start.cooldown_secs));
    let enabled = RwSignal::new(start.enabled);
    let chosen = RwSignal::new(start.channels);
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let preview = RwSignal::new(None::<Result<RulePreview, String>>);
    let spec = move || {
        let c = condition.get_untracked();
        let threshold = c == "threshold";
        AlertRuleSpec {
            name: name.get_untracked(),
            severity: severity.get_untracked(),
            filter: filter.get_untracked(),
            condition: c.clone(),
            batch_secs: (c == "every_match")
                .then(|| number(&batch.get_untracked(), 1))
                .flatten(),
            at_least: threshold
                .then(|| number(&at_least.get_untracked(), 1))
                .flatten(),
            window_secs: (c != "every_match")
                .then(|| number(&window.get_untracked(), 60))
                .flatten(),
            group_by: threshold
                .then(|| group_by.get_untracked())
                .filter(|g| !g.is_empty()),
            pending_secs: threshold
                .then(|| number(&pending.get_untracked(), 60))
                .flatten(),
            cooldown_secs: threshold
                .then(|| number(&cooldown.get_untracked(), 60))
                .flatten(),
            enabled: enabled.get_untracked(),
            channels: chosen.get_untracked(),
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let spec = spec();
        saving.set(true);
        leptos::task::spawn_local(async move {
            match save_alert_rule(id, spec).await {
                Ok(_) => {
                    error.set(None);
                    done.set(RuleEditing::Closed);
                    changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            saving.set(false);
        });
    };
    let run_preview = move |_| {
        let spec = spec();
        preview.set(None);
        leptos::task::spawn_local(async move {
            preview.set(Some(
                preview_alert_rule(spec).await.map_err(|e| e.to_string()),
            ));
        });
    };
    let audit_link = move || format!("/audit?{}", filter.get());
    let title = if id.is_some() {
        "Change the rule"
    } else {
        "New alert rule"
    };
    let number_input = move |label: &'static str,
                             testid: &'static str,
                             value: RwSignal<String>,
                             help: &'static str| {
        view! {
            <label>
                <span>{label}</span>
                <input type="number" min="0" data-testid=testid
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))/>
                <small class="muted">{help}</small>
            </label>
        }
    };
    Some(view! {
        // The filter's search box is a form of its own, and Enter in a picker applies it: they
        // stand before the rule's <form>, not inside it.
        <div class="rule-form" role="group" data-testid="rule-form" aria-labelledby="rule-form-title">
            <h2 id="rule-form-title">{title}</h2>
            <section class="rule-filter" aria-labelledby="rule-filter-title">
                <h3 id="rule-filter-title">"Entries it watches"</h3>
                <RuleFilter search=filter/>
                <details class="rule-filter-text">
                    <summary>"The filter as text"</summary>
                    <label>
                        <span>"As in the audit log's address (and the API's filter field)"</span>
                        <input type="text" name="filter" data-testid="rule-filter"
                            placeholder="every entry"
                            prop:value=move || filter.get()
                            on:input=move |ev| filter.set(event_target_value(&ev))/>
                    </label>
                </details>
                <small class="muted">
                    "The time range is not part of a rule: it watches what is recorded from now on. "
                    <a href=audit_link data-testid="rule-filter-link">"Show these entries in the audit log"</a>
                </small>
            </section>
        <form class="rule-fields admin-form" on:submit=save>
            <div class="form-row">
                <label>
                    <span>"Name"</span>
                    <input type="text" name="name" maxlength="100" required data-testid="rule-name"
                        placeholder="Failed sign-in spike"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label>
                    <span>"Severity"</span>
                    <select name="severity" data-testid="rule-severity"
                        on:change=move |ev| severity.set(event_target_value(&ev))>
                        {["info", "warning", "critical"].map(|v| view! {
                            <option value=v selected=move || severity.get() == v>{v}</option>
                        })}
                    </select>
                </label>
            </div>
            <label>
                <span>"Notify"</span>
                <select name="condition" data-testid="rule-condition"
                    on:change=move |ev| condition.set(event_target_value(&ev))>
                    {[("threshold", "When at least N match within a window"),
                      ("every_match", "On every match (a burst is one message)"),
                      ("absence", "When nothing matches for a window")]
                        .map(|(v, words)| view! {
                            <option value=v selected=move || condition.get() == v>{words}</option>
                        })}
                </select>
            </label>
            <Show when=move || condition.get() == "every_match">
                <div class="form-row">
                    {number_input("Gather for (seconds)", "rule-batch", batch,
                        "0 to 300: a burst within it is one message")}
                </div>
            </Show>
            <Show when=move || condition.get() == "threshold">
                <div class="form-row">
                    {number_input("At least", "rule-at-least", at_least, "1 to 10,000 entries")}
                    {number_input("Within (minutes)", "rule-window", window, "1 minute to 7 days")}
                    <label>
                        <span>"Per"</span>
                        <select name="group_by" data-testid="rule-group-by"
                            on:change=move |ev| group_by.set(event_target_value(&ev))>
                            {[("", "the whole rule"), ("actor", "actor"), ("ip", "IP address"),
                              ("resource", "resource"), ("source", "source (API key)")]
                                .map(|(v, words)| view! {
                                    <option value=v selected=move || group_by.get() == v>{words}</option>
                                })}
                        </select>
                        <small class="muted">"one alert per value (at most 1,000 at once)"</small>
                    </label>
                </div>
                <div class="form-row">
                    {number_input("Hold for (minutes)", "rule-pending", pending,
                        "fires only if the count holds this long")}
                    {number_input("Cool-down (minutes)", "rule-cooldown", cooldown,
                        "resolves after the count stays below this long")}
                </div>
            </Show>
            <Show when=move || condition.get() == "absence">
                <div class="form-row">
                    {number_input("Silent for (minutes)", "rule-window", window, "1 minute to 7 days")}
                </div>
            </Show>
            <fieldset class="rule-channels">
                <legend>"Notify these channels"</legend>
                {move || {
                    let list = channels.get();
                    if list.is_empty() {
                        view! { <p class="muted">"No channel yet: add one below. Alerts are recorded either way."</p> }.into_any()
                    } else {
                        list.iter().map(|c| {
                            let id = c.id;
                            let label = format!("{} ({})", c.name, c.kind);
                            view! {
                                <label class="checkbox">
                                    <input type="checkbox" data-testid="rule-channel"
                                        prop:checked=move || chosen.with(|s| s.contains(&id))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            chosen.update(|s| {
                                                s.retain(|c| *c != id);
                                                if on { s.push(id); }
                                            });
                                        }/>
                                    <span>{label}</span>
                                </label>
                            }
                        }).collect_view().into_any()
                    }
                }}
            </fieldset>
            <label class="checkbox">
                <input type="checkbox" name="enabled" data-testid="rule-enabled"
                    prop:checked=move || enabled.get()
                    on:change=move |ev| enabled.set(event_target_checked(&ev))/>
                <span>"Enabled"</span>
            </label>
            <div class="rule-preview" role="status" data-testid="rule-preview">
                {move || preview.get().map(|p| match p {
                    Ok(p) => {
                        let times = p.fired + p.batches;
                        let words = format!(
                            "Would have {} {} in the last 7 days ({} matching {}).",
                            if p.batches > 0 { "sent" } else { "fired" },
                            match times { 1 => "once".to_string(), n => format!("{n} times") },
                            p.entries,
                            if p.entries == 1 { "entry" } else { "entries" },
                        );
                        view! {
                            <p data-testid="rule-preview-words">{words}</p>
                            <ul class="preview-times">
                                {p.times.iter().take(10).map(|t| view! {
                                    <li><time datetime=t.to_rfc3339()>{crate::format::format_utc(t)}</time></li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                    Err(e) => view! { <p class="form-error">{e}</p> }.into_any(),
                })}
            </div>
            <p class="form-error" role="alert" data-testid="rule-error">{move || error.get()}</p>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="rule-save"
                    disabled=move || saving.get()>"Save rule"</button>
                <button type="button" class="secondary" data-testid="rule-preview-button"
                    on:click=run_preview>"Preview over the last 7 days"</button>
                <button type="button" class="secondary"
                    on:click=move |_| done.set(RuleEditing::Closed)>"Cancel"</button>
            </div>
        </form>
        </div>
    })
}
