//! What the audit page shows instead of entries: no access, no entries (for these filters or
//! at all), or a link's filter that cannot be used. Each says what to do next.

use leptos::prelude::*;

use crate::console_state::ConsoleNav;
use crate::filter::CanonicalFilter;

/// A member who is not allowed to read the log.
#[component]
pub fn NoAccess() -> impl IntoView {
    view! {
        <div class="state-message" role="alert">
            <h2>"No access"</h2>
            <p>"Only admins and compliance officers can view the audit log. Ask an admin if you need access."</p>
        </div>
    }
}

/// No rows for `filter` (its canonical form, recorded for tests as what is shown).
#[component]
pub fn EmptyState(filter: CanonicalFilter) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let narrowed = move || !nav.filter().is_everything();
    // Values no entry has ever had, said plainly. Asked by the browser once it is interactive
    // (an effect, so the server's render never waits on it).
    let never = RwSignal::new(Vec::<crate::model::NeverRecorded>::new());
    let asked = filter.clone();
    Effect::new(move |_| {
        let f = asked.clone();
        leptos::task::spawn_local(async move {
            if let Ok(found) = crate::api::values_never_recorded(f).await {
                let _ = never.try_set(found);
            }
        });
    });
    view! {
        <div class="state-message" data-testid="empty-state" data-shown-filter=filter.to_string()>
            <Show
                when=narrowed
                fallback=|| view! { <h2>"No entries recorded yet"</h2> <p>"Entries appear here as soon as they are ingested."</p> }
            >
                <h2>"No entries match these filters"</h2>
                {move || Some(never.get()).filter(|n| !n.is_empty()).map(|n| view! {
                    <ul class="never-recorded" data-testid="never-recorded">
                        {n.into_iter().map(|x| view! { <li>{x.sentence()}</li> }).collect_view()}
                    </ul>
                })}
                <p>"Nothing in the log matches every filter above. Remove a filter or clear them all."</p>
                <button type="button" class="primary"
                    on:click=move |_| nav.update_filter(|f| *f = f.cleared())>"Clear all filters"</button>
            </Show>
        </div>
    }
}

/// The URL's filter is refused: which parameter and why, and a way on that keeps every
/// parameter that can be used (or the whole log when none can).
#[component]
pub fn RefusedFilter() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let message = move || {
        nav.query
            .with(|q| q.filter.as_ref().err().map(|e| e.to_string()))
            .unwrap_or_default()
    };
    let param = move || {
        nav.query
            .with(|q| q.filter.as_ref().err().map(|e| e.param.clone()))
            .unwrap_or_default()
    };
    let recovery = move || nav.query.with(|q| q.recovery.clone());
    view! {
        <div class="state-message error" role="alert" data-testid="filter-error">
            <h2>{move || format!("This link's “{}” cannot be used", param())}</h2>
            <p>{message}</p>
            {move || match recovery() {
                Some(href) => view! {
                    <a class="button primary" href=href data-testid="filter-recovery">
                        "Show entries with the rest of the link"
                    </a>
                    " "
                    <a class="button" href="/audit">"Show all entries"</a>
                }.into_any(),
                None => view! {
                    <a class="button primary" href="/audit">"Show all entries"</a>
                }.into_any(),
            }}
        </div>
    }
}
