//! `/login`: a plain HTML form posted to the server, so it works before (and without) WASM.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/audit".to_string()));
    // The URL says which refusal, by code; the words are ours, never text from the URL.
    let error = move || query.with(|q| q.get("error").map(|code| refusal(&code)));
    let email = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    // After a refusal: the email as typed, and the password to type again focused.
    Effect::new(move |_| {
        if let (Some(email), Some(password)) = (email.get(), password.get()) {
            if query.with_untracked(|q| q.get("error").is_some()) {
                let kept = window()
                    .session_storage()
                    .ok()
                    .flatten()
                    .and_then(|s| s.get_item(TYPED_EMAIL).ok().flatten());
                if let Some(kept) = kept {
                    email.set_value(&kept);
                    let _ = password.focus();
                }
            }
        }
    });
    let keep_email = move |_| {
        if let (Some(input), Ok(Some(storage))) = (email.get(), window().session_storage()) {
            let _ = storage.set_item(TYPED_EMAIL, &input.value());
        }
    };
    view! {
        <main class="login-page">
            <form class="login-card" method="post" action="/login" on:submit=keep_email>
                <h1 class="brand">"Trailkeep"</h1>
                <p class="login-subtitle">"Sign in to the audit log"</p>
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <input type="hidden" name="next" value=next/>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required
                    node_ref=email/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password"
                    autocomplete="current-password" required node_ref=password/>
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
        "credentials-1" => {
            "Wrong email or password. 1 attempt left before a 15-minute lock of this account."
        }
        "credentials-0" => {
            "Wrong email or password. That was the last attempt: this account is locked for 15 \
             minutes."
        }
        _ => "Wrong email or password.",
    }
}

/// Where this tab keeps the email typed, so that after a refusal the form still holds it (the
/// server never sends it back: nothing typed travels in the URL).
const TYPED_EMAIL: &str = "trailkeep.sign_in_email";
