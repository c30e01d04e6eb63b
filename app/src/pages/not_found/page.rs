//! The page for a path the console does not know (status 404 when rendered by the server).

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <main class="centered-page">
            <h1>"Page not found"</h1>
            <p><a href="/audit">"Go to the audit log"</a></p>
        </main>
    }
}
