//! Live mode's controls: the toggle (`live=1` in the URL), and while live the connection
//! indicator, the events-per-second readout and Pause/Resume.

use leptos::prelude::*;

use crate::console_state::ConsoleNav;
use crate::live_feed::{Connection, LiveFeed};

/// "Live": on streams new matching entries into the table (newest first).
#[component]
pub fn LiveToggle() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let on = move || nav.query.with(|q| q.live);
    view! {
        <button type="button" class="live-toggle" data-testid="live-toggle"
            aria-pressed=move || on().to_string()
            title="Stream new entries as they are recorded (uses more network traffic)"
            on:click=move |_| nav.set_live(!on())>
            <span class="live-dot" aria-hidden="true"></span>
            "Live"
        </button>
    }
}

/// Live · Reconnecting… · Offline, as the socket hears it; the rate; Pause/Resume.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let feed = expect_context::<LiveFeed>();
    let state = move || feed.connection.get();
    let label = move || match state() {
        Connection::Off => "",
        Connection::Connecting => "Connecting…",
        Connection::Live => "Live",
        Connection::CatchingUp => "Catching up…",
        Connection::Reconnecting => "Reconnecting…",
        Connection::Offline => "Offline",
    };
    let class = move || match state() {
        Connection::Live | Connection::CatchingUp => "live-status is-live",
        Connection::Offline => "live-status is-offline",
        _ => "live-status is-waiting",
    };
    let held = move || feed.arrived.with(Vec::len);
    view! {
        <Show when=move || state() != Connection::Off>
            <span class=class role="status" data-testid="live-status" data-state=move || format!("{:?}", state()).to_lowercase()>
                <span class="live-dot" aria-hidden="true"></span>
                {label}
            </span>
            <span class="live-rate muted" data-testid="live-rate">
                {move || {
                    let t = feed.rate_tenths.get();
                    format!("{}.{} events/s", t / 10, t % 10)
                }}
            </span>
            <button type="button" class="secondary" data-testid="live-pause"
                aria-pressed=move || feed.paused.get().to_string()
                on:click=move |_| feed.paused.update(|p| *p = !*p)>
                {move || if feed.paused.get() {
                    format!("Resume ({} held)", held())
                } else {
                    "Pause".to_string()
                }}
            </button>
        </Show>
    }
}
