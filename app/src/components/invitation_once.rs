//! A new invitation's link, shown once: send it to the person (it works once, until it
//! expires). The token is after `#` in the link, so it never reaches a server's or a proxy's
//! log; Trailkeep keeps only its hash.

use leptos::prelude::*;

use crate::format::minutes_utc;
use crate::invitations::NewInvitation;

#[component]
pub fn InvitationOnce(made: RwSignal<Option<NewInvitation>>) -> impl IntoView {
    view! {
        {move || made.get().map(|new| {
            let origin = window().location().origin().unwrap_or_default();
            let link = format!("{origin}/invite#{}", new.token);
            let copied = link.clone();
            let who = format!("{} <{}>", new.invitation.name, new.invitation.email);
            view! {
                <section class="secret-once" role="status" data-testid="invitation-once"
                    aria-label="Invitation link">
                    <h2>{format!("Invitation for {who}")}</h2>
                    <p>{format!(
                        "Send this link to them: it works once, until {}. It is never shown again; invite them again if it is lost.",
                        minutes_utc(&new.invitation.expires_at),
                    )}</p>
                    <code class="secret" data-testid="invitation-link">{link}</code>
                    <div class="form-actions">
                        <super::CopyButton text=move || copied.clone() label="Copy link" testid="copy-invitation"/>
                        <button type="button" class="secondary" data-testid="invitation-done"
                            on:click=move |_| made.set(None)>"Done"</button>
                    </div>
                </section>
            }
        })}
    }
}
