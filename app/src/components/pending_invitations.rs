//! The invitations not yet used, under the users: who, as what, invited by whom, until when.
//! Their links are never shown again.

use leptos::prelude::*;

use crate::api::invitations::pending_invitations;
use crate::format::minutes_utc;

#[component]
pub fn PendingInvitations(changed: RwSignal<u32>) -> impl IntoView {
    let pending = Resource::new(move || changed.get(), |_| pending_invitations());
    view! {
        <Transition fallback=|| ()>
            {move || pending.get().map(|r| match r {
                Ok(list) if list.is_empty() => None,
                Ok(list) => Some(view! {
                    <h2 class="section-title">"Pending invitations"</h2>
                    <div class="admin-table-wrap">
                        <table class="admin-table" data-testid="pending-invitations">
                            <thead>
                                <tr>
                                    <th scope="col">"Invited"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Invited by"</th>
                                    <th scope="col">"Usable until"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.into_iter().map(|i| view! {
                                    <tr data-testid="pending-invitation">
                                        <td class="user-name-cell">{i.name}<div class="user-email">{i.email}</div></td>
                                        <td>{i.role.as_str()}</td>
                                        <td>{i.invited_by}</td>
                                        <td>{minutes_utc(&i.expires_at)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()),
                Err(e) => Some(view! {
                    <p class="form-error" role="alert">{format!("The pending invitations could not be loaded: {e}")}</p>
                }.into_any()),
            })}
        </Transition>
    }
}
