//! `/login`: a plain HTML form posted to the server, so it works before (and without) WASM.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/audit".to_string()));
    // The URL says which refusal, by code; the words are ours, never text from the URL.
    let error = move || query.with(|q| q.get("error").map(|code| refusal(&code)));
    view! {
        <main class="login-page">
            <form class="login-card" method="post" action="/login">
                <h1 class="brand">"Trailkeep"</h1>
                <p class="login-subtitle">"Sign in to the audit log"</p>
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <input type="hidden" name="next" value=next/>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password"
                    autocomplete="current-password" required/>
                <button type="submit" class="primary">"Sign in"</button>
            </form>
        </main>
    }
}

/// What the sign-in page says for each refusal code the server sends.
fn refusal(code: &str) -> &'static str {
    match code {
        "locked" => "Too many failed sign-ins for this account. Try again in 15 minutes.",
        "throttled" => "Too many failed sign-ins from this address. Try again in 15 minutes.",
        _ => "Wrong email or password.",
    }
}
