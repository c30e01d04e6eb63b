//! Whether the page is interactive yet: false on the server and until the browser has
//! hydrated, then true for good. What only the browser can compute (times in another zone)
//! waits for it, so hydration sees the server's HTML unchanged.

use leptos::prelude::RwSignal;

/// True once the page is interactive in the browser (always false on the server), provided
/// as context by the app shell.
#[derive(Clone, Copy)]
pub struct Hydrated(pub RwSignal<bool>);
