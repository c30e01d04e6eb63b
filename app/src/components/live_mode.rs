//! Live mode's controls: the toggle (`live=1` in the URL), and while live the connection
//! indicator, the events-per-second readout and Pause/Resume.

use leptos::prelude::*;

use crate::chunks::{when_loaded, Chunk};
use crate::console_state::ConsoleNav;
use crate::live_feed::{Connection, LiveFeed};

/// "Live": on streams new matching entries into the table (newest first).
#[component]
pub fn LiveToggle() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let feed = expect_context::<LiveFeed>();
    let on = move || nav.query.with(|q| q.live);
    // Live mode whose code could not be loaded is not live, whatever the URL says.
    let working = move || on() && feed.connection.get() != Connection::Unavailable;
    view! {
        <button type="button" class="live-toggle" data-testid="live-toggle"
            aria-pressed=move || working().to_string()
            title="Stream new entries as they are recorded (uses more network traffic)"
            on:click=move |_| nav.set_live(!on())>
            <span class="live-dot" aria-hidden="true"></span>
            {move || if on() && !working() { "Live unavailable" } else { "Live" }}
        </button>
    }
}

/// Live · Reconnecting… · Offline, as the socket hears it; the rate; Pause/Resume. Shown
/// while live mode is on, its code comes with live mode's (a chunk fetched on first use).
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let feed = expect_context::<LiveFeed>();
    view! {
        <Show when=move || feed.connection.get() != Connection::Off>
            {move || when_loaded(Box::pin(live_indicator(feed)))}
        </Show>
    }
}

#[wasm_split_helpers::wasm_split(live_mode, fallible)]
fn live_indicator(feed: LiveFeed) -> Chunk {
    Ok(view! { <LiveControls feed/> }.into_any())
}

#[component]
fn LiveControls(feed: LiveFeed) -> impl IntoView {
    let state = move || feed.connection.get();
    let label = move || match state() {
        Connection::Off => "",
        Connection::Connecting => "Connecting…",
        // The toggle beside it already says "Live".
        Connection::Live => "Streaming",
        Connection::CatchingUp => "Catching up…",
        Connection::Reconnecting => "Reconnecting…",
        Connection::Offline => "Offline",
        Connection::Unavailable => "Could not start: reload the page",
        Connection::SignedOut => "Stopped: session ended",
        Connection::Stopped => "Stopped",
    };
    let class = move || match state() {
        Connection::Live | Connection::CatchingUp => "live-status is-live",
        Connection::Offline
        | Connection::Unavailable
        | Connection::Stopped
        | Connection::SignedOut => "live-status is-offline",
        _ => "live-status is-waiting",
    };
    let held = move || feed.arrived.with(Vec::len);
    view! {
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
            on:click=move |_| feed.toggle_pause()>
            {move || if state() == Connection::Stopped {
                "Resume (reload the list)".to_string()
            } else if feed.paused.get() {
                format!("Resume ({} held)", held())
            } else {
                "Pause".to_string()
            }}
        </button>
        <Show when=move || state() == Connection::Stopped>
            <p class="live-stopped" role="alert" data-testid="live-stopped">
                {format!(
                    "More than {} new entries were held unseen, so the stream stopped to spare \
                     this browser's memory. Resume reloads the list with everything that arrived.",
                    crate::live_feed::HELD_CAP
                )}
            </p>
        </Show>
    }
}
