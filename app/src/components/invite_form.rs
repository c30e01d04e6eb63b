//! "Invite user": an email, a name and a role. The server checks them (and that nobody has the
//! email yet) and answers with the link's token, shown once by `InvitationOnce`.

use leptos::prelude::*;

use crate::api::invitations::invite_user;
use crate::invitations::NewInvitation;
use crate::model::Role;

#[component]
pub fn InviteForm(
    changed: RwSignal<u32>,
    made: RwSignal<Option<NewInvitation>>,
    done: RwSignal<bool>,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Compliance);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let email_ref = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = email_ref.get() {
            let _ = input.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match invite_user(
                email.get_untracked(),
                name.get_untracked(),
                role.get_untracked(),
            )
            .await
            {
                Ok(invitation) => {
                    made.set(Some(invitation));
                    changed.update(|n| *n += 1);
                    done.set(false);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="key-form" data-testid="invite-form" on:submit=submit>
            <h2>"Invite a user"</h2>
            <label>
                "Email"
                <input type="email" node_ref=email_ref data-testid="invite-email" autocomplete="off"
                    placeholder="name@example.com"
                    prop:value=move || email.get()
                    on:input=move |ev| email.set(event_target_value(&ev))/>
            </label>
            <label>
                "Name"
                <input type="text" data-testid="invite-name" autocomplete="off" maxlength="200"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))/>
            </label>
            <label>
                "Role"
                <select data-testid="invite-role"
                    on:change=move |ev| role.set(Role::parse(&event_target_value(&ev)).unwrap_or(Role::Member))>
                    {[Role::Compliance, Role::Admin, Role::Member].into_iter().map(|r| view! {
                        <option value=r.as_str() selected=move || role.get() == r>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <p class="form-error" role="alert" data-testid="invite-error">{move || error.get()}</p>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="send-invite" disabled=move || busy.get()>"Create invitation link"</button>
                <button type="button" class="secondary" on:click=move |_| done.set(false)>"Cancel"</button>
            </div>
        </form>
    }
}
