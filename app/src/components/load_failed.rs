//! What a list shows when it could not be loaded: why (with an optional heading), and a Retry
//! button that asks again (by bumping the list's `changed` counter).

use leptos::prelude::*;

#[component]
pub fn LoadFailed(
    /// The reason, as the server said it.
    message: String,
    /// Bumped by Retry: the resource reading the list asks again.
    changed: RwSignal<u32>,
    /// A heading above the reason ("The users could not be loaded").
    #[prop(optional)]
    heading: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="state-message error" role="alert">
            {heading.map(|h| view! { <h2>{h}</h2> })}
            <p>{message}</p>
            <button type="button" class="secondary"
                on:click=move |_| changed.update(|n| *n += 1)>"Retry"</button>
        </div>
    }
}
