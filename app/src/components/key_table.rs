//! The API keys table: one row per key, with Rotate and Revoke for live keys. Each action asks
//! first, in a row under the key (what happens to clients, and for a rotation how long the
//! previous secret stays accepted); the new secret of a rotation is shown once by `SecretOnce`.

use leptos::prelude::*;
use uuid::Uuid;

use crate::api::keys::{revoke_key, rotate_key};
use crate::format::minutes_utc;
use crate::keys::{ApiKey, KeyStatus, NewSecret};

/// How long a rotated key's previous secret stays accepted, in hours.
const GRACES: &[(u32, &str)] = &[
    (0, "Refuse it at once"),
    (1, "1 hour"),
    (24, "24 hours"),
    (72, "3 days"),
    (168, "7 days (the most)"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Asking {
    Rotate(Uuid),
    Revoke(Uuid),
}

#[component]
pub fn KeyTable(
    keys: Vec<ApiKey>,
    changed: RwSignal<u32>,
    secret: RwSignal<Option<NewSecret>>,
) -> impl IntoView {
    let asking = RwSignal::new(None::<Asking>);
    let error = RwSignal::new(None::<String>);
    let now = crate::format::now();
    if keys.is_empty() {
        return view! {
            <p class="state-message" data-testid="no-keys">
                "No keys yet. Create one for each platform or tool that sends or reads events."
            </p>
        }
        .into_any();
    }
    let rows = keys
        .into_iter()
        .map(|key| {
            let id = key.id;
            let status = key.status(now);
            let name = key.name.clone();
            let asked_name = key.name.clone();
            view! {
                <tr data-testid="key-row" data-key=id.to_string() data-status=status.word()>
                    <td class="key-name">{key.name.clone()}</td>
                    <td>{key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")}</td>
                    <td>
                        <code>{key.prefix.clone()}"…"</code>
                        {match (status, key.previous_prefix.clone()) {
                            (KeyStatus::Rotating(until), Some(previous)) => Some(view! {
                                <div class="key-previous" data-testid="key-previous">
                                    "previous " <code>{previous}"…"</code> " accepted until " {minutes_utc(&until)}
                                </div>
                            }),
                            _ => None,
                        }}
                    </td>
                    <td>
                        {key.created_by.clone().unwrap_or_else(|| "—".into())}
                        <div class="key-when">{minutes_utc(&key.created_at)}</div>
                    </td>
                    <td>{key.last_used_at.as_ref().map(minutes_utc).unwrap_or_else(|| "Never".into())}</td>
                    <td>{key.expires_at.as_ref().map(minutes_utc).unwrap_or_else(|| "Never".into())}</td>
                    <td><span class="key-status" data-status=status.word()>{status.word()}</span></td>
                    <td class="row-actions">
                        {status.is_live().then(|| view! {
                            <button type="button" class="secondary" data-testid="rotate-key"
                                aria-label=format!("Rotate {name}")
                                on:click=move |_| { error.set(None); asking.set(Some(Asking::Rotate(id))) }>"Rotate"</button>
                            <button type="button" class="secondary danger" data-testid="revoke-key"
                                aria-label=format!("Revoke {name}")
                                on:click=move |_| { error.set(None); asking.set(Some(Asking::Revoke(id))) }>"Revoke"</button>
                        })}
                    </td>
                </tr>
                {move || match asking.get() {
                    Some(Asking::Rotate(which)) if which == id => Some(view! {
                        <tr class="row-asking"><td colspan="8">
                            <RotateKey id name=asked_name.clone() asking error changed secret/>
                        </td></tr>
                    }.into_any()),
                    Some(Asking::Revoke(which)) if which == id => Some(view! {
                        <tr class="row-asking"><td colspan="8">
                            <RevokeKey id name=asked_name.clone() asking error changed/>
                        </td></tr>
                    }.into_any()),
                    _ => None,
                }}
            }
        })
        .collect_view();
    view! {
        <div class="admin-table-wrap">
            <table class="admin-table" data-testid="key-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"May"</th>
                        <th scope="col">"Prefix"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn RotateKey(
    id: Uuid,
    name: String,
    asking: RwSignal<Option<Asking>>,
    error: RwSignal<Option<String>>,
    changed: RwSignal<u32>,
    secret: RwSignal<Option<NewSecret>>,
) -> impl IntoView {
    let grace = RwSignal::new(2usize);
    let busy = RwSignal::new(false);
    let rotate = move |_| {
        busy.set(true);
        let hours = GRACES[grace.get_untracked()].0;
        leptos::task::spawn_local(async move {
            match rotate_key(id, hours).await {
                Ok(made) => {
                    asking.set(None);
                    secret.set(Some(made));
                    changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="row-ask" data-testid="rotate-ask" role="group" aria-label=format!("Rotate {name}")>
            <p>{format!("A new secret for \u{201c}{name}\u{201d}. Until its clients have it, the current one can stay accepted:")}</p>
            <label>
                "Previous secret accepted for "
                <select data-testid="rotate-grace"
                    on:change=move |ev| grace.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {GRACES.iter().enumerate().map(|(i, (_, words))| view! {
                        <option value=i.to_string() selected=move || grace.get() == i>{*words}</option>
                    }).collect_view()}
                </select>
            </label>
            <p class="form-error" role="alert">{move || error.get()}</p>
            <div class="form-actions">
                <button type="button" data-testid="confirm-rotate" disabled=move || busy.get()
                    on:click=rotate>"Rotate"</button>
                <button type="button" class="secondary" on:click=move |_| asking.set(None)>"Cancel"</button>
            </div>
        </div>
    }
}

#[component]
fn RevokeKey(
    id: Uuid,
    name: String,
    asking: RwSignal<Option<Asking>>,
    error: RwSignal<Option<String>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let revoke = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            match revoke_key(id).await {
                Ok(_) => {
                    asking.set(None);
                    changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="row-ask" data-testid="revoke-ask" role="group" aria-label=format!("Revoke {name}")>
            <p>{format!("Revoke \u{201c}{name}\u{201d}? Every client using it is refused at once, its live connections too. Its entries stay in the log, attributed to it. This cannot be undone.")}</p>
            <p class="form-error" role="alert">{move || error.get()}</p>
            <div class="form-actions">
                <button type="button" class="danger" data-testid="confirm-revoke" disabled=move || busy.get()
                    on:click=revoke>"Revoke key"</button>
                <button type="button" class="secondary" on:click=move |_| asking.set(None)>"Cancel"</button>
            </div>
        </div>
    }
}
