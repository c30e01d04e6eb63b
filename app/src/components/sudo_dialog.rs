//! "Confirm your password": asked when a sensitive change (second factor, API key, user, role,
//! invitation, settings) was refused because this session last proved its password more than
//! 10 minutes ago (sudo mode, `api::sudo`). Every such refusal, wherever a page receives it, is
//! announced with one window event (`crate::session::report_password_needed`, from the one
//! place server-function errors are decoded), so no component has to remember to ask; once
//! confirmed, the user chooses the action again.

use leptos::prelude::*;

use crate::api::account::confirm_password;

#[component]
pub fn SudoDialog() -> impl IntoView {
    let asked = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let listener =
            window_event_listener_untyped(crate::session::PASSWORD_NEEDED_EVENT, move |_| {
                asked.set(true)
            });
        on_cleanup(move || listener.remove());
    }
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if asked.get() {
            if let Some(i) = input.get() {
                let _ = i.focus();
            }
        }
    });
    let close = move || {
        asked.set(false);
        password.set(String::new());
        error.set(None);
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match confirm_password(password.get_untracked()).await {
                Ok(()) => close(),
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <Show when=move || asked.get()>
            <div class="session-ended-backdrop"></div>
            <div class="session-ended sudo-dialog" role="dialog" aria-modal="true"
                aria-labelledby="sudo-title" aria-describedby="sudo-why"
                data-testid="sudo-dialog"
                on:keydown=move |ev| if ev.key() == "Escape" { close() }>
            <form on:submit=submit>
                <h2 id="sudo-title">"Confirm your password"</h2>
                <p id="sudo-why">
                    "This change needs your password again: you last signed in or confirmed it \
                     more than 10 minutes ago. Then choose the action again."
                </p>
                <label>
                    "Password"
                    <input type="password" node_ref=input data-testid="sudo-password"
                        autocomplete="current-password" required
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                <p class="form-error" role="alert" data-testid="sudo-error">{move || error.get()}</p>
                <div class="form-actions">
                    <button type="submit" class="primary" data-testid="sudo-confirm"
                        disabled=move || busy.get()>"Confirm"</button>
                    <button type="button" class="secondary" on:click=move |_| close()>"Cancel"</button>
                </div>
            </form>
            </div>
        </Show>
    }
}
