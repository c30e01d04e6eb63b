//! Trailkeep's shared crate: the typed model used by server and browser, and the console's
//! Leptos components. `ssr` builds the server half, `hydrate` the browser half.

// The console page's view types nest deeply.
#![recursion_limit = "512"]

pub mod action;
pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod chips;
pub mod chunks;
pub mod components;
pub mod console_state;
pub mod error;
pub mod filter;
pub mod integrity;
pub mod live;
pub mod live_feed;
pub mod model;
pub mod pages;
pub mod patterns;
pub mod time_zone;

/// True once the page is interactive in the browser (always false on the server): what only
/// the browser can compute (times in another zone) waits for it, so hydration sees the
/// server's HTML unchanged.
#[derive(Clone, Copy)]
pub struct Hydrated(pub RwSignal<bool>);

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path, SsrMode,
};

/// The HTML document around the app, rendered on the server. The browser bundle is loaded
/// from `assets_root` (a path named for the server's build).
pub fn shell(options: LeptosOptions, assets_root: String) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="data:,"/>
                <HydrationScripts options root=assets_root/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: this marks the moment the page became interactive
    // (tests wait for it before clicking).
    let hydrated = RwSignal::new(false);
    provide_context(Hydrated(hydrated));
    Effect::new(move |_| {
        hydrated.set(true);
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/trailkeep.css"/>
        <Title text="Trailkeep"/>
        <Router>
            <Routes fallback=|| view! { <pages::NotFound/> }>
                <Route path=path!("/") view=|| view! { <Redirect path="/audit"/> }/>
                <Route path=path!("/login") view=pages::LoginPage/>
                // Rendered whole before sending: a shared link shows its rows even without script.
                <Route path=path!("/audit") view=pages::AuditPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
