//! The users table. For admins each row has the user's role as a choice and Deactivate or
//! Reactivate; each change asks first, in a row under the user (what happens to them), and the
//! server's refusal (the last active admin) is shown there in its words. Compliance officers
//! see the same table without the controls.

use leptos::prelude::*;
use uuid::Uuid;

use crate::api::users::{change_role, reset_two_factor, set_user_active};
use crate::format::minutes_utc;
use crate::model::Role;
use crate::users::UserView;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Asking {
    Role(Uuid, Role),
    Active(Uuid, bool),
    /// Turn their second factor off (a lost phone).
    ResetTwoFactor(Uuid),
}

#[component]
pub fn UserTable(
    users: Vec<UserView>,
    /// Whether the viewer may change users (the server checks it again).
    admin: bool,
    /// The viewer, marked "you".
    me: Uuid,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let asking = RwSignal::new(None::<Asking>);
    let error = RwSignal::new(None::<String>);
    if users.is_empty() {
        return view! {
            <p class="state-message" data-testid="no-users">"No user matches. Clear the search or choose another role or status."</p>
        }
        .into_any();
    }
    let rows = users
        .into_iter()
        .map(|user| {
            let id = user.id;
            let name = user.name.clone();
            let asked = user.clone();
            let role_choice = move |ev: leptos::ev::Event| {
                if let Some(role) = Role::parse(&event_target_value(&ev)) {
                    error.set(None);
                    asking.set(Some(Asking::Role(id, role)));
                }
            };
            let current = user.role;
            view! {
                <tr data-testid="user-row" data-user=user.email.clone() data-status=user.status_word()>
                    <td class="user-name-cell">
                        {user.name.clone()}
                        {(id == me).then(|| view! { <span class="you">" (you)"</span> })}
                        <div class="user-email">{user.email.clone()}</div>
                    </td>
                    <td>
                        {if admin {
                            view! {
                                <select data-testid="user-role" aria-label=format!("Role of {name}")
                                    on:change=role_choice
                                    prop:value=move || match asking.get() {
                                        Some(Asking::Role(which, role)) if which == id => role.as_str(),
                                        _ => current.as_str(),
                                    }>
                                    {[Role::Admin, Role::Compliance, Role::Member].into_iter().map(|r| view! {
                                        <option value=r.as_str() selected=r == current>{r.as_str()}</option>
                                    }).collect_view()}
                                </select>
                            }.into_any()
                        } else {
                            view! { <span>{current.as_str()}</span> }.into_any()
                        }}
                    </td>
                    <td><span class="user-status" data-status=user.status_word()>{user.status_word()}</span></td>
                    <td class="user-two-factor" data-testid="user-two-factor">{if user.two_factor { "On" } else { "Off" }}</td>
                    <td>{user.last_sign_in_at.as_ref().map(minutes_utc).unwrap_or_else(|| "Never".into())}</td>
                    <td class="col-created">{minutes_utc(&user.created_at)}</td>
                    {admin.then(|| {
                        let active = user.active();
                        view! {
                            <td class="row-actions">
                                <button type="button" class=if active { "secondary danger" } else { "secondary" }
                                    data-testid=if active { "deactivate-user" } else { "reactivate-user" }
                                    aria-label=format!("{} {name}", if active { "Deactivate" } else { "Reactivate" })
                                    on:click=move |_| {
                                        error.set(None);
                                        asking.set(Some(Asking::Active(id, !active)));
                                    }>
                                    {if active { "Deactivate" } else { "Reactivate" }}
                                </button>
                                {user.two_factor.then(|| view! {
                                    <button type="button" class="secondary" data-testid="reset-two-factor"
                                        aria-label=format!("Reset 2FA of {name}")
                                        on:click=move |_| {
                                            error.set(None);
                                            asking.set(Some(Asking::ResetTwoFactor(id)));
                                        }>"Reset 2FA"</button>
                                })}
                            </td>
                        }
                    })}
                </tr>
                {move || match asking.get() {
                    Some(ask @ (Asking::Role(which, _) | Asking::Active(which, _) | Asking::ResetTwoFactor(which))) if which == id => Some(view! {
                        <tr class="row-asking"><td colspan="7">
                            <AskChange user=asked.clone() ask asking error changed/>
                        </td></tr>
                    }),
                    _ => None,
                }}
            }
        })
        .collect_view();
    view! {
        <div class="admin-table-wrap">
            <table class="admin-table" data-testid="user-table">
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"2FA"</th>
                        <th scope="col">"Last sign-in"</th>
                        <th scope="col" class="col-created">"Created"</th>
                        {admin.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The question before a change: what it does to the user, then the change or Cancel.
#[component]
fn AskChange(
    user: UserView,
    ask: Asking,
    asking: RwSignal<Option<Asking>>,
    error: RwSignal<Option<String>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let name = user.name.clone();
    let (question, button) = match ask {
        Asking::Role(_, role) => (
            format!(
                "Make {name} {} instead of {}? They are signed out everywhere and sign in again under the new role.",
                role.as_str(),
                user.role.as_str()
            ),
            "Change role",
        ),
        Asking::Active(_, false) => (
            format!("Deactivate {name}? They are signed out everywhere at once, their live views close, and they cannot sign in until an admin reactivates them. Their entries stay in the log."),
            "Deactivate",
        ),
        Asking::Active(_, true) => (
            format!("Reactivate {name}? They can sign in again with their password, as {}.", user.role.as_str()),
            "Reactivate",
        ),
        Asking::ResetTwoFactor(_) => (
            format!("Reset {name}'s two-factor sign-in? Use this when they lost their phone: they are signed out everywhere, sign in with their password alone, and should set it up again on their Account page."),
            "Reset 2FA",
        ),
    };
    let confirm = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let done = match ask {
                Asking::Role(id, role) => change_role(id, role).await,
                Asking::Active(id, active) => set_user_active(id, active).await,
                Asking::ResetTwoFactor(id) => reset_two_factor(id).await,
            };
            match done {
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
        <div class="row-ask" data-testid="user-ask" role="group" aria-label=button>
            <p>{question}</p>
            <p class="form-error" role="alert" data-testid="user-error">{move || error.get()}</p>
            <div class="form-actions">
                <button type="button" class=if matches!(ask, Asking::Active(_, false) | Asking::ResetTwoFactor(_)) { "danger" } else { "primary" }
                    data-testid="confirm-user-change" disabled=move || busy.get()
                    on:click=confirm>{button}</button>
                <button type="button" class="secondary" on:click=move |_| asking.set(None)>"Cancel"</button>
            </div>
        </div>
    }
}
