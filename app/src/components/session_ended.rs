//! "Your session ended — sign in again": shown over any console page as soon as anything on it
//! notices the session is gone (`crate::session`), with a link that signs in and comes back to
//! the same page and filter. It replaces endless "retrying" and never shows a raw error.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use crate::session::{sign_in_again_href, ENDED_EVENT};

#[component]
pub fn SessionEndedNotice() -> impl IntoView {
    let ended = RwSignal::new(false);
    let link = NodeRef::<leptos::html::A>::new();
    // Where to come back to, read when the notice appears (the URL follows the filters).
    let href = RwSignal::new(String::from("/login"));
    #[cfg(feature = "hydrate")]
    {
        let listener = window_event_listener_untyped(ENDED_EVENT, move |_| {
            if ended.get_untracked() {
                return;
            }
            let location = window().location();
            let here = format!(
                "{}{}",
                location.pathname().unwrap_or_default(),
                location.search().unwrap_or_default()
            );
            href.set(sign_in_again_href(&here));
            ended.set(true);
        });
        on_cleanup(move || listener.remove());
    }
    // The notice takes the focus, so a keyboard user is not left in the page behind it.
    Effect::new(move |_| {
        if ended.get() {
            if let Some(a) = link.get() {
                let _ = a.focus();
            }
        }
    });
    view! {
        <Show when=move || ended.get()>
            <div class="session-ended-backdrop"></div>
            <div class="session-ended" role="alertdialog" aria-modal="true"
                aria-labelledby="session-ended-title" aria-describedby="session-ended-why"
                data-testid="session-ended"
                on:keydown=move |ev| {
                    if let Some(a) = link.get_untracked() {
                        // One control: Tab stays on it.
                        if ev.key() == "Tab" {
                            ev.prevent_default();
                            let _ = a.focus();
                        }
                    }
                }>
                <h2 id="session-ended-title">"Your session ended — sign in again"</h2>
                <p id="session-ended-why">
                    "You were signed out (in another tab, by an admin, or after the session timed out). Sign in \
                     to come back to this page with the same filters."
                </p>
                <a class="button primary" node_ref=link href=move || href.get()
                    data-testid="sign-in-again">"Sign in again"</a>
            </div>
        </Show>
    }
}
