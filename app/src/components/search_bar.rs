//! Free-text search over every field, server-side across all pages. Runs on Enter and after a
//! pause in typing; `/` anywhere on the page focuses it.
//!
//! What is typed is never overwritten by the search's own echo: the box follows the URL only
//! when the URL's search changed for another reason (a chip removed, back/forward), so keys
//! typed while an earlier search is on its way all stay.

use std::time::Duration;

use leptos::prelude::*;

use crate::components::Debounce;
use crate::console_state::ConsoleNav;

pub const SEARCH_INPUT_ID: &str = "audit-search";
const TYPING_PAUSE: Duration = Duration::from_millis(450);

#[component]
pub fn SearchBar() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let text = RwSignal::new(nav.filter_untracked().q.unwrap_or_default());
    // The search this box last sent to the URL.
    let sent = StoredValue::new(nav.filter_untracked().q);
    Effect::new(move |_| {
        let q = nav.filter().q;
        if sent.get_value() != q {
            sent.set_value(q.clone());
            text.set(q.unwrap_or_default());
        }
    });
    let typing = Debounce::new(TYPING_PAUSE);
    let apply = move |replace: bool| {
        let q = text.get_untracked().trim().to_string();
        let q = (!q.is_empty()).then_some(q);
        if nav.filter_untracked().q != q {
            sent.set_value(q.clone());
            nav.update_filter_with(|f| f.q = q, replace);
        }
    };
    view! {
        <form class="search-bar" role="search" on:submit=move |ev| {
            ev.prevent_default();
            apply(false);
        }>
            <label class="visually-hidden" for=SEARCH_INPUT_ID>"Search the audit log"</label>
            <input
                id=SEARCH_INPUT_ID
                type="search"
                name="q"
                autocomplete="off"
                placeholder="Search users, actions, resources, IPs, details…   ( / )"
                prop:value=move || text.get()
                on:input=move |ev| {
                    text.set(event_target_value(&ev));
                    typing.call(move || apply(true));
                }
                // Leaving the box applies what it holds at once: a button clicked right after
                // typing (Export, a rule's Save) acts on it, not on what came before.
                on:change=move |_| apply(true)
                // Esc closes what is open (the detail panel); it never wipes a search typed with
                // care (a search box's default). Clearing is the chip's ✕ or selecting the text.
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        ev.prevent_default();
                    }
                }
            />
            <button type="submit" class="primary">"Search"</button>
        </form>
    }
}
