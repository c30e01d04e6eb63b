//! Ten recovery codes, shown once (after enrolment or "New recovery codes"): each signs in once
//! instead of the app's code. Trailkeep keeps only their hashes; "Done" forgets them here too.

use leptos::prelude::*;

use crate::two_factor::RecoveryCodes;

#[component]
pub fn RecoveryCodesOnce(codes: RwSignal<Option<RecoveryCodes>>) -> impl IntoView {
    view! {
        {move || codes.get().map(|RecoveryCodes(list)| {
            let text = list.join("\n");
            view! {
                <section class="secret-once" role="status" data-testid="recovery-codes"
                    aria-label="Recovery codes">
                    <h2>"Your recovery codes"</h2>
                    <p>"Keep them somewhere safe, apart from your phone: each one signs you in once \
                        if the app is not at hand. They are never shown again."</p>
                    <ol class="recovery-codes">
                        {list.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
                    </ol>
                    <div class="form-actions">
                        <super::CopyButton text=move || text.clone() label="Copy codes" testid="copy-codes"/>
                        <button type="button" class="secondary" data-testid="codes-done"
                            on:click=move |_| codes.set(None)>"Done"</button>
                    </div>
                </section>
            }
        })}
    }
}
