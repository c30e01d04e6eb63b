//! The HTML document and the router: every page is reached through [`App`], which marks
//! the moment the page becomes interactive (`Hydrated`, and `data-hydrated` on the body).

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path, SsrMode,
};

use crate::hydration::Hydrated;
use crate::pages::{
    AccountPage, AlertsPage, AuditPage, ExportsPage, InvitePage, KeysPage, LoginPage, NotFound,
    SettingsPage, UsersPage,
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

/// The console: its routes, with the page's interactivity (`Hydrated`) provided to all.
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
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/") view=|| view! { <Redirect path="/audit"/> }/>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/invite") view=InvitePage/>
                // Rendered whole before sending: a shared link shows its rows even without script.
                <Route path=path!("/audit") view=AuditPage ssr=SsrMode::Async/>
                <Route path=path!("/users") view=UsersPage ssr=SsrMode::Async/>
                <Route path=path!("/keys") view=KeysPage ssr=SsrMode::Async/>
                <Route path=path!("/exports") view=ExportsPage ssr=SsrMode::Async/>
                <Route path=path!("/alerts") view=AlertsPage ssr=SsrMode::Async/>
                <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                <Route path=path!("/settings") view=SettingsPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
