//! Two display choices that live in the URL: newest/oldest first, and UTC/local time.

use leptos::prelude::*;

use crate::console_state::ConsoleNav;
use crate::filter::Order;
use crate::time_zone::browser_zone;

/// Newest first / Oldest first (chronological, for incident timelines).
#[component]
pub fn OrderToggle() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let asc = move || nav.filter().order == Order::Asc;
    view! {
        <div class="segmented" role="group" aria-label="Order">
            <button type="button" aria-pressed=move || (!asc()).to_string()
                on:click=move |_| nav.update_filter(|f| f.order = Order::Desc)>"Newest first"</button>
            <button type="button" aria-pressed=move || asc().to_string() data-testid="oldest-first"
                on:click=move |_| nav.update_filter(|f| f.order = Order::Asc)>"Oldest first"</button>
        </div>
    }
}

/// UTC / Local: local writes the browser's zone into the URL (`tz=`).
#[component]
pub fn TimeZoneToggle() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let tz = move || nav.filter().tz;
    view! {
        <div class="segmented" role="group" aria-label="Time zone">
            <button type="button" aria-pressed=move || tz().is_none().to_string() data-testid="tz-utc"
                on:click=move |_| nav.update_filter(|f| f.tz = None)>"UTC"</button>
            <button type="button" aria-pressed=move || tz().is_some().to_string() data-testid="tz-local"
                title=move || tz().unwrap_or_else(|| "Your browser's time zone".into())
                on:click=move |_| {
                    let zone = browser_zone().filter(|z| z != "UTC" && z != "Etc/UTC");
                    nav.update_filter(|f| f.tz = zone);
                }>
                {move || match tz() {
                    Some(z) => format!("Local ({z})"),
                    None => "Local".to_string(),
                }}
            </button>
        </div>
    }
}
