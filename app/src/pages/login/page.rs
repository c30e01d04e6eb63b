//! `/login`: a plain HTML form posted to the server, so it works before (and without) WASM.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/audit".to_string()));
    // The URL says which refusal, by code; the words are ours, never text from the URL.
    // The lockout's length beside the last attempts' codes: a number, or nothing.
    let error = move || {
        query.with(|q| {
            let lock = q.get("lock").and_then(|m| lock_minutes(&m));
            q.get("error").map(|code| refusal(&code, lock))
        })
    };
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
fn CodeStep(next: Signal<String>, error: Signal<Option<String>>) -> impl IntoView {
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

/// The lockout's length from the URL's `lock=`: whole minutes, from one minute to a week
/// (anything else is not said).
fn lock_minutes(raw: &str) -> Option<u32> {
    raw.parse().ok().filter(|m| (1..=7 * 24 * 60).contains(m))
}

/// "15 minutes", "1 hour", "1 hour 30 minutes", "a while" (unknown).
fn lock_words(minutes: Option<u32>) -> String {
    let Some(m) = minutes else {
        return "a while".to_string();
    };
    let unit = |n: u32, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    match (m / 60, m % 60) {
        (0, m) => unit(m, "minute"),
        (h, 0) => unit(h, "hour"),
        (h, m) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
    }
}

/// What the sign-in page says for each refusal code the server sends (`lock`: how many minutes
/// the lockout the last attempts lead to lasts, when the server said).
fn refusal(code: &str, lock: Option<u32>) -> String {
    let lock = lock_words(lock);
    match code {
        "locked" => {
            "Too many failed sign-ins for this account. Try again later, when the lockout ends."
                .into()
        }
        "throttled" => {
            "Too many failed sign-ins from this address. Try again later, when the lockout ends."
                .into()
        }
        "credentials-1" => format!(
            "Wrong email or password. 1 attempt left before this account is locked for {lock}."
        ),
        "credentials-0" => format!(
            "Wrong email or password. That was the last attempt: this account is locked for \
             {lock}."
        ),
        "code" => {
            "That code is not right. Type the code the app shows now (each works once).".into()
        }
        "code-1" => format!(
            "That code is not right. 1 attempt left before this account is locked for {lock}."
        ),
        "code-0" => format!(
            "That code is not right. That was the last attempt: this account is locked for \
             {lock}."
        ),
        "expired" => {
            "That sign-in took too long or was already used. Enter your email and password again."
                .into()
        }
        _ => "Wrong email or password.".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_attempts_say_how_long_the_lock_lasts() {
        assert_eq!(
            refusal("credentials-1", lock_minutes("15")),
            "Wrong email or password. 1 attempt left before this account is locked for 15 minutes."
        );
        assert!(refusal("code-0", lock_minutes("90")).ends_with("locked for 1 hour 30 minutes."));
        assert!(refusal("credentials-0", lock_minutes("60")).ends_with("locked for 1 hour."));
        assert!(refusal("code-1", lock_minutes("1")).ends_with("locked for 1 minute."));
        // Not a number of minutes the settings allow: not said.
        for bad in ["0", "-5", "99999", "15<b>", ""] {
            assert!(refusal("credentials-1", lock_minutes(bad)).ends_with("locked for a while."));
        }
        assert_eq!(refusal("nonsense", Some(15)), "Wrong email or password.");
    }
}
