//! "Top values": the most frequent users, actions, resources and IP addresses under the filter
//! on screen, with exact counts, each a click away from being a filter (=) or an exclusion (≠).
//! Asked only while the panel is open, again whenever the filter changes; an answer about an
//! earlier filter is dropped (the resource is keyed on the filter). While the next answer is
//! counted (seconds, for a broad search over millions of entries) the earlier answer keeps its
//! space but is hidden, and a line says what is being counted, so no count is read under the
//! wrong filter and the table below does not jump.

use leptos::either::EitherOf3;
use leptos::prelude::*;

use crate::api::top_values_under;
use crate::components::ValueFilter;
use crate::console_state::ConsoleNav;
use crate::filter::{CanonicalFilter, Exclusion};
use crate::format::thousands;
use crate::model::TopValues;

#[component]
pub fn TopValuesToggle(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button type="button" class="secondary small" data-testid="top-values-toggle"
            aria-expanded=move || open.get().to_string() aria-controls="top-values"
            on:click=move |_| open.update(|o| *o = !*o)>
            "Top values"
        </button>
    }
}

/// `refresh`: bumped by the page's Refresh button, which asks the open panel again too.
#[component]
pub fn TopValuesPanel(open: RwSignal<bool>, refresh: RwSignal<u32>) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let filter = Memo::new(move |_| {
        nav.query
            .with(|q| q.filter.as_ref().ok().map(CanonicalFilter::from))
    });
    let counts = LocalResource::new(move || {
        let asked = open.get().then(|| filter.get()).flatten();
        refresh.track();
        async move {
            match asked {
                Some(f) => Some(top_values_under(f).await),
                None => None,
            }
        }
    });
    // True while an answer is counted; `stale` when an earlier answer is on screen meanwhile.
    let pending = RwSignal::new(false);
    let stale = move || pending.get() && counts.get().flatten().is_some();
    view! {
        <Show when=move || open.get()>
            <section id="top-values" class="top-values" aria-label="Top values" data-testid="top-values"
                aria-busy=move || pending.get().to_string() class:top-values-stale=stale>
                {move || stale().then(|| view! {
                    <p class="muted top-values-pending" role="status" data-testid="top-values-pending">
                        "Counting under the filters now on screen…"
                    </p>
                })}
                <div class="top-values-answer">
                <Transition fallback=|| view! { <p class="muted">"Counting…"</p> } set_pending=pending>
                    {move || counts.get().flatten().map(|r| match r {
                        Ok(fields) if fields.iter().all(|f| f.values.is_empty()) => EitherOf3::A(view! {
                            <p class="muted">"No entries match these filters."</p>
                        }),
                        Ok(fields) => EitherOf3::B(view! {
                            <div class="top-values-grid">
                                {fields.into_iter().map(|f| view! { <TopList field=f/> }).collect_view()}
                            </div>
                        }),
                        Err(e) => EitherOf3::C(view! { <p class="field-error" role="alert">{e.to_string()}</p> }),
                    })}
                </Transition>
                </div>
            </section>
        </Show>
    }
}

/// One field's list: value, count, = and ≠; "of N" when there are more values than shown.
#[component]
fn TopList(field: TopValues) -> impl IntoView {
    let TopValues {
        field,
        values,
        distinct,
    } = field;
    let shown = values.len() as i64;
    let heading = if distinct > shown {
        format!("{} (top {shown} of {})", field.label(), thousands(distinct))
    } else {
        field.label().to_string()
    };
    view! {
        <div class="top-list" data-field=format!("{field:?}").to_lowercase()>
            <h2>{heading}</h2>
            {if values.is_empty() {
                view! { <p class="muted">"None"</p> }.into_any()
            } else {
                view! {
                    <ol>
                        {values.into_iter().map(|v| {
                            let what = format!("{} {}", field.singular(), v.label);
                            let buttons = Exclusion::of(field, &v.value).map(|x| view! { <ValueFilter value=x label=what/> });
                            view! {
                                <li data-value=v.value.clone()>
                                    <span class="top-label" title=v.value.clone()>{v.label.clone()}</span>
                                    <span class="top-count" data-testid="top-count">{thousands(v.count)}</span>
                                    {buttons}
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </div>
    }
}
