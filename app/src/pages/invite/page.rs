//! `/invite#<token>` itself: nobody is signed in. The token is read from the link's fragment
//! in the browser (it never travels in a URL a server or proxy logs) and sent in the body of
//! the two public server functions: who the invitation is for, and the account's creation with
//! the password the person chooses (the same rules as the server's, said as they type).

use leptos::prelude::*;

use crate::api::invitations::{accept_invitation, read_invitation};
use crate::components::{site_name_resource, SITE_NAME};
use crate::format::minutes_utc;
use crate::invitations::{password_problem, InvitationFor};

#[component]
pub fn InvitePage() -> impl IntoView {
    // Read once the page runs in the browser: the server never sees the fragment.
    let token = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let hash = window().location().hash().unwrap_or_default();
        token.set(Some(hash.trim_start_matches('#').to_string()));
    });
    let invitation = LocalResource::new(move || {
        let token = token.get();
        async move {
            match token {
                None => None,
                Some(t) => Some(read_invitation(t).await),
            }
        }
    });
    let site = site_name_resource();
    view! {
        <main class="login-page">
            <div class="login-card" data-testid="invite-page">
            <h1>
                <Transition fallback=|| format!("Join {SITE_NAME}")>
                    {move || format!("Join {}", site.get().unwrap_or_else(|| SITE_NAME.to_string()))}
                </Transition>
            </h1>
            <Suspense fallback=|| view! { <p>"Reading the invitation…"</p> }>
                {move || invitation.get().map(|found| match found {
                    None => view! { <p>"Reading the invitation…"</p> }.into_any(),
                    Some(Err(e)) => view! {
                        <p class="form-error" role="alert" data-testid="invite-refused">{e.to_string()}</p>
                        <a href="/login">"Sign in"</a>
                    }.into_any(),
                    Some(Ok(invited)) => view! {
                        <ChoosePassword invited token=token.get_untracked().unwrap_or_default()/>
                    }.into_any(),
                })}
            </Suspense>
            </div>
        </main>
    }
}

#[component]
fn ChoosePassword(invited: InvitationFor, token: String) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let done = RwSignal::new(false);
    let email = invited.email.clone();
    let problem = Memo::new(move |_| {
        let p = password.get();
        (!p.is_empty())
            .then(|| password_problem(&p, &email))
            .flatten()
    });
    let token = StoredValue::new(token);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        if password.get_untracked() != again.get_untracked() {
            error.set(Some(
                "The two passwords differ: type the same one twice.".into(),
            ));
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match accept_invitation(token.get_value(), password.get_untracked()).await {
                Ok(()) => done.set(true),
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <Show when=move || !done.get() fallback=|| view! {
            <p role="status" data-testid="invite-done">"Your account is ready."</p>
            <a class="button primary" href="/login">"Sign in"</a>
        }>
            <p class="login-subtitle">
                {format!("{} <{}>, as {}. This link works once, until {}.",
                    invited.name, invited.email, invited.role.as_str(), minutes_utc(&invited.expires_at))}
            </p>
            <form class="invite-form" on:submit=submit>
                <label for="invite-password">"Choose a password"</label>
                <input id="invite-password" type="password" autocomplete="new-password"
                    data-testid="invite-password" aria-describedby="invite-password-hint"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))/>
                <p id="invite-password-hint" class="muted" data-testid="invite-hint">
                    {move || problem.get().map(|p| p.to_string()).unwrap_or_else(|| {
                        format!("At least {} characters; not a common password, not your email.", crate::invitations::PASSWORD_MIN)
                    })}
                </p>
                <label for="invite-again">"The same password again"</label>
                <input id="invite-again" type="password" autocomplete="new-password"
                    data-testid="invite-again"
                    prop:value=move || again.get()
                    on:input=move |ev| again.set(event_target_value(&ev))/>
                <p class="form-error" role="alert" data-testid="invite-error">{move || error.get()}</p>
                <button type="submit" class="primary" data-testid="create-account"
                    disabled=move || busy.get()>"Create my account"</button>
            </form>
        </Show>
    }
}
