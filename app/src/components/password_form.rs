//! "Password" on the Account page: the current password, then the new one twice. The server
//! checks the current one (wrong ones count toward the sign-in lockout) and the new one's rules
//! (`account::new_password_problem`, said here as it is typed), and ends every other session.

use leptos::prelude::*;

use crate::account::{new_password_problem, PasswordRefusal};
use crate::api::account::change_password;

#[component]
pub fn PasswordForm(email: String) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let hint = move || {
        let typed = new.get();
        if typed.is_empty() {
            return None;
        }
        new_password_problem(&typed, &email).map(|p| p.to_string())
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        done.set(None);
        if new.get_untracked() != again.get_untracked() {
            error.set(Some(PasswordRefusal::Mismatch.to_string()));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match change_password(current.get_untracked(), new.get_untracked()).await {
                Ok(ended) => {
                    for field in [current, new, again] {
                        field.set(String::new());
                    }
                    done.set(Some(match ended {
                        0 => "Password changed.".to_string(),
                        1 => "Password changed. Your 1 other session was signed out.".to_string(),
                        n => format!("Password changed. Your {n} other sessions were signed out."),
                    }));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    let field = move |id: &'static str,
                      label: &'static str,
                      value: RwSignal<String>,
                      autocomplete: &'static str| {
        view! {
            <label for=id>{label}</label>
            <input id=id type="password" data-testid=id autocomplete=autocomplete required
                maxlength="1000"
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))/>
        }
    };
    view! {
        <section class="account-section" aria-labelledby="password-heading" data-testid="password">
            <h2 id="password-heading">"Password"</h2>
            <form class="key-form password-form" on:submit=submit>
                {field("current-password", "Current password", current, "current-password")}
                {field("new-password", "New password", new, "new-password")}
                <p class="field-hint" data-testid="password-hint" aria-live="polite">
                    {move || hint().unwrap_or_else(|| "At least 12 characters; a few unrelated words are easy to remember.".into())}
                </p>
                {field("new-password-again", "New password again", again, "new-password")}
                <p class="form-error" role="alert" data-testid="password-error">{move || error.get()}</p>
                <p class="form-done" role="status" data-testid="password-done">{move || done.get()}</p>
                <div class="form-actions">
                    <button type="submit" class="primary" data-testid="change-password"
                        disabled=move || busy.get()>"Change password"</button>
                </div>
            </form>
        </section>
    }
}
