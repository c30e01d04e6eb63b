//! "1,204 entries" above the table.

use leptos::prelude::*;

use crate::api::count_entries;

#[component]
pub fn ResultCount(#[prop(into)] filter: Signal<String>) -> impl IntoView {
    let count = Resource::new(move || filter.get(), count_entries);
    view! {
        <p class="result-count" aria-live="polite" data-testid="result-count">
            <Transition fallback=|| "Counting…">
                {move || count.get().map(|r| match r {
                    Ok(c) => c.label(),
                    Err(_) => String::new(),
                })}
            </Transition>
        </p>
    }
}
