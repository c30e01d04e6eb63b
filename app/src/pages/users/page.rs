//! `/users` itself: every user with their role, status, last sign-in and creation, found by
//! name or email, role and status, sorted by a column; all of it in the URL (`UserQuery`), so
//! a link shows the same view. Admins change roles and deactivate or reactivate users; the
//! server checks each call and keeps the last active admin.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::users::list_users;
use crate::api::whoami;
use crate::components::{
    ConsoleLayout, InvitationOnce, InviteForm, LoadFailed, PendingInvitations, UserTable,
};
use crate::invitations::NewInvitation;
use crate::model::Role;
use crate::users::{UserQuery, UserSort};

#[component]
pub fn UsersPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <ConsoleLayout user=me>
            <Suspense fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(user) if matches!(user.role, Role::Admin | Role::Compliance) => {
                        EitherOf3::A(view! { <UsersView admin=user.role == Role::Admin me=user.id/> })
                    }
                    Ok(_) => EitherOf3::B(view! {
                        <div class="state-message" role="alert">
                            <h1>"Users"</h1>
                            <p>"Only admins and compliance officers can see the users. Ask an admin if you need a change."</p>
                        </div>
                    }),
                    Err(e) => EitherOf3::C(view! {
                        <div class="state-message error" role="alert">
                            <h1>"Not signed in"</h1>
                            <p>{e.to_string()}</p>
                            <a href="/login?next=/users">"Sign in"</a>
                        </div>
                    }),
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn UsersView(admin: bool, me: uuid::Uuid) -> impl IntoView {
    let params = use_query_map();
    let view = Memo::new(move |_| params.with(|p| UserQuery::from_params(|k| p.get(k))));
    let navigate = use_navigate();
    // Every change of the view is a URL: typing replaces it, a choice adds to history.
    let go = move |next: UserQuery, replace: bool| {
        let qs = next.to_query_string();
        let url = if qs.is_empty() {
            "/users".to_string()
        } else {
            format!("/users?{qs}")
        };
        navigate(
            &url,
            NavigateOptions {
                replace,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let go = StoredValue::new(go);
    let set = move |change: Box<dyn FnOnce(&mut UserQuery)>, replace: bool| {
        let mut next = view.get_untracked();
        change(&mut next);
        go.with_value(|go| go(next, replace));
    };
    let changed = RwSignal::new(0u32);
    let users = Resource::new(move || changed.get(), |_| list_users());
    let inviting = RwSignal::new(false);
    let invited = RwSignal::new(None::<NewInvitation>);
    view! {
        <div class="page-header">
            <h1>"Users"</h1>
            {admin.then(|| view! {
                <div class="header-actions">
                    <button type="button" class="primary" data-testid="invite-user"
                        aria-expanded=move || inviting.get().to_string()
                        on:click=move |_| inviting.update(|o| *o = !*o)>"Invite user"</button>
                </div>
            })}
        </div>
        <p class="page-intro">
            {if admin {
                "Who can sign in to this console, and what they may do: admins manage users and \
                 keys, compliance officers read and export the log, members see no entries. \
                 Every change here ends the user's sessions and is recorded in the audit log."
            } else {
                "Who can sign in to this console, and what they may do. Only admins change users."
            }}
        </p>
        <Show when=move || inviting.get()>
            <InviteForm changed made=invited done=inviting/>
        </Show>
        <InvitationOnce made=invited/>
        <form class="list-filters" role="search" aria-label="Find users"
            on:submit=|ev| ev.prevent_default()>
            <label>
                "Find"
                <input type="search" data-testid="users-find" placeholder="Name or email"
                    autocomplete="off"
                    prop:value=move || view.with(|v| v.q.clone())
                    on:input=move |ev| {
                        let typed = event_target_value(&ev);
                        set(Box::new(move |v| v.q = typed), true);
                    }/>
            </label>
            <label>
                "Role"
                <select data-testid="users-role" on:change=move |ev| {
                    let role = Role::parse(&event_target_value(&ev));
                    set(Box::new(move |v| v.role = role), false);
                }>
                    <option value="" selected=move || view.with(|v| v.role.is_none())>"All roles"</option>
                    {[Role::Admin, Role::Compliance, Role::Member].into_iter().map(|r| view! {
                        <option value=r.as_str() selected=move || view.with(|v| v.role == Some(r))>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Status"
                <select data-testid="users-status" on:change=move |ev| {
                    let active = match event_target_value(&ev).as_str() {
                        "active" => Some(true),
                        "deactivated" => Some(false),
                        _ => None,
                    };
                    set(Box::new(move |v| v.active = active), false);
                }>
                    <option value="" selected=move || view.with(|v| v.active.is_none())>"Any status"</option>
                    <option value="active" selected=move || view.with(|v| v.active == Some(true))>"Active"</option>
                    <option value="deactivated" selected=move || view.with(|v| v.active == Some(false))>"Deactivated"</option>
                </select>
            </label>
            <label>
                "Sort by"
                <select data-testid="users-sort" on:change=move |ev| {
                    let sort = UserSort::parse(&event_target_value(&ev)).unwrap_or_default();
                    set(Box::new(move |v| v.sort = sort), false);
                }>
                    {UserSort::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || view.with(|v| v.sort == s)>{sort_words(s)}</option>
                    }).collect_view()}
                </select>
            </label>
        </form>
        <Transition fallback=|| view! { <p class="state-message">"Loading users…"</p> }>
            {move || users.get().map(|r| match r {
                Ok(all) => {
                    let shown = view.with(|v| v.apply(&all));
                    let note = format!("Showing {} of {} users", shown.len(), all.len());
                    view! {
                        <p class="list-count" data-testid="users-count" role="status">{note}</p>
                        <UserTable users=shown admin me changed/>
                        <PendingInvitations changed/>
                    }.into_any()
                }
                Err(e) => view! {
                    <LoadFailed message=e.to_string() changed heading="The users could not be loaded"/>
                }.into_any(),
            })}
        </Transition>
    }
}

fn sort_words(s: UserSort) -> &'static str {
    match s {
        UserSort::Name => "Name",
        UserSort::Email => "Email",
        UserSort::Role => "Role",
        UserSort::LastSignIn => "Last sign-in (newest first)",
    }
}
