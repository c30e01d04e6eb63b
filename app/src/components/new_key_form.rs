//! "New key": a name, what it may do (ingest, read, admin, import) and when it expires. The server checks the
//! same rules (`keys::key_name`, `key_scopes`, `key_expiry`) and answers with the secret, shown
//! once by `SecretOnce`.

use leptos::prelude::*;

use crate::api::keys::create_key;
use crate::keys::{NewSecret, Scope};

/// Expiry choices, in days (none: never).
const EXPIRIES: &[(Option<u32>, &str)] = &[
    (None, "Never"),
    (Some(30), "In 30 days"),
    (Some(90), "In 90 days"),
    (Some(365), "In a year"),
];

#[component]
pub fn NewKeyForm(
    changed: RwSignal<u32>,
    secret: RwSignal<Option<NewSecret>>,
    done: RwSignal<bool>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let ingest = RwSignal::new(true);
    let read = RwSignal::new(false);
    let admin = RwSignal::new(false);
    let import = RwSignal::new(false);
    let expiry = RwSignal::new(0usize);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let name_ref = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let scopes: Vec<Scope> = [
            (ingest, Scope::Ingest),
            (read, Scope::Read),
            (admin, Scope::Admin),
            (import, Scope::Import),
        ]
        .into_iter()
        .filter(|(on, _)| on.get_untracked())
        .map(|(_, s)| s)
        .collect();
        let days = EXPIRIES[expiry.get_untracked()].0;
        busy.set(true);
        leptos::task::spawn_local(async move {
            match create_key(name.get_untracked(), scopes, days).await {
                Ok(made) => {
                    secret.set(Some(made));
                    changed.update(|n| *n += 1);
                    done.set(false);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="key-form" data-testid="new-key-form" on:submit=submit>
            <h2>"New API key"</h2>
            <label>
                "Name"
                <input type="text" node_ref=name_ref data-testid="key-name" maxlength="200"
                    placeholder="Billing service" autocomplete="off"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))/>
            </label>
            <fieldset>
                <legend>"May"</legend>
                <label class="check">
                    <input type="checkbox" data-testid="scope-ingest" prop:checked=move || ingest.get()
                        on:change=move |ev| ingest.set(event_target_checked(&ev))/>
                    " ingest: send events"
                </label>
                <label class="check">
                    <input type="checkbox" data-testid="scope-read" prop:checked=move || read.get()
                        on:change=move |ev| read.set(event_target_checked(&ev))/>
                    " read: read, export and watch the log"
                </label>
                <label class="check">
                    <input type="checkbox" data-testid="scope-admin" prop:checked=move || admin.get()
                        on:change=move |ev| admin.set(event_target_checked(&ev))/>
                    " admin: configure alert rules and notification channels"
                </label>
                <label class="check">
                    <input type="checkbox" data-testid="scope-import" prop:checked=move || import.get()
                        on:change=move |ev| import.set(event_target_checked(&ev))/>
                    " import: send a history of past events (the log then says “Imported history” where it would warn of a late record)"
                </label>
            </fieldset>
            <label>
                "Expires"
                <select data-testid="key-expiry"
                    on:change=move |ev| expiry.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {EXPIRIES.iter().enumerate().map(|(i, (_, words))| view! {
                        <option value=i.to_string() selected=move || expiry.get() == i>{*words}</option>
                    }).collect_view()}
                </select>
            </label>
            <p class="form-error" role="alert" data-testid="key-error">{move || error.get()}</p>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="create-key" disabled=move || busy.get()>"Create key"</button>
                <button type="button" class="secondary" on:click=move |_| done.set(false)>"Cancel"</button>
            </div>
        </form>
    }
}
