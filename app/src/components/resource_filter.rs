//! The resource filter: `type:id`, `type:*` or a bare id, applied on Enter.

use leptos::prelude::*;

use crate::console_state::ConsoleNav;
use crate::filter::ResourcePattern;

#[component]
pub fn ResourceFilter() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let text = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        text.set(
            nav.filter()
                .resource
                .map(|r| r.to_string())
                .unwrap_or_default(),
        );
    });
    view! {
        <form class="control resource-filter" on:submit=move |ev| {
            ev.prevent_default();
            let value = text.get_untracked().trim().to_string();
            if value.is_empty() {
                problem.set(None);
                nav.update_filter(|f| f.resource = None);
                return;
            }
            match ResourcePattern::parse(&value) {
                Ok(r) => {
                    problem.set(None);
                    nav.update_filter(|f| f.resource = Some(r));
                }
                Err(m) => problem.set(Some(m)),
            }
        }>
            <label>
                <span class="control-label">"Resource"</span>
                <input
                    type="text"
                    data-testid="resource-filter"
                    placeholder="type:id, type:*, or id"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                />
            </label>
            {move || problem.get().map(|m| view! { <span class="field-error" role="alert">{m}</span> })}
        </form>
    }
}
