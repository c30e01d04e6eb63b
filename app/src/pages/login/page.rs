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
    let code_step = move || query.with(|q| q.get("step").as_deref() == Some("code"));
    view! {
        <main class="login-page">
            <Show when=code_step fallback=move || view! {
            <form class="login-card" method="post" action="/login" on:submit=keep_email>
                <h1 class="brand" data-testid="login-site-name"><SiteName/></h1>
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
            }>
                <CodeStep next=Signal::derive(next) error=Signal::derive(error)/>
            </Show>
        </main>
    }
}

/// The second step, for an account with two-factor sign-in: the password was right, the
/// app's code (or a recovery code) opens the session. Its state is an HttpOnly cookie the
/// server set, valid 5 minutes and used once; nothing here can skip it.
#[component]
fn CodeStep(next: Signal<String>, error: Signal<Option<&'static str>>) -> impl IntoView {
    view! {
        <form class="login-card" method="post" action="/login/code">
            <h1 class="brand"><SiteName/></h1>
            <p class="login-subtitle">"Two-factor sign-in"</p>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <input type="hidden" name="next" value=move || next.get()/>
            <label for="code">"Code from your authenticator app"</label>
            <input id="code" name="code" type="text" inputmode="numeric"
                autocomplete="one-time-code" required autofocus maxlength="20"
                aria-describedby="code-hint"/>
            <p id="code-hint" class="login-hint">
                "The 6 digits the app shows now. Without your phone, type one of your recovery codes."
            </p>
            <button type="submit" class="primary">"Verify"</button>
            <a class="login-restart" href="/login">"Start again with your password"</a>
        </form>
    }
}

/// What the sign-in page says for each refusal code the server sends.
fn refusal(code: &str) -> &'static str {
    match code {
        "locked" => {
            "Too many failed sign-ins for this account. Try again later, when the lockout ends."
        }
        "throttled" => {
            "Too many failed sign-ins from this address. Try again later, when the lockout ends."
        }
        "credentials-1" => {
            "Wrong email or password. 1 attempt left before this account is locked for a while."
        }
        "credentials-0" => {
            "Wrong email or password. That was the last attempt: this account is locked for a \
             while (the site's lockout setting)."
        }
        "code" => "That code is not right. Type the code the app shows now (each works once).",
        "code-1" => {
            "That code is not right. 1 attempt left before this account is locked for a while."
        }
        "code-0" => {
            "That code is not right. That was the last attempt: this account is locked for a \
             while (the site's lockout setting)."
        }
        "expired" => {
            "That sign-in took too long or was already used. Enter your email and password again."
        }
        _ => "Wrong email or password.",
    }
}

/// Where this tab keeps the email typed, so that after a refusal the form still holds it (the
/// server never sends it back: nothing typed travels in the URL).
const TYPED_EMAIL: &str = "trailkeep.sign_in_email";

/// The site's name as the settings say it (the product's until the server answers).
#[component]
fn SiteName() -> impl IntoView {
    let site = crate::components::site_name_resource();
    view! {
        <Transition fallback=|| crate::components::SITE_NAME>
            {move || site.get().unwrap_or_else(|| crate::components::SITE_NAME.to_string())}
        </Transition>
    }
}
