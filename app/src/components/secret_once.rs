//! A key's new secret, shown once (after "Create key" or "Rotate"): copy it now, it is never
//! shown again. Trailkeep keeps only its hash; "Done" forgets it in the page too.

use leptos::prelude::*;

use crate::keys::NewSecret;

#[component]
pub fn SecretOnce(secret: RwSignal<Option<NewSecret>>) -> impl IntoView {
    view! {
        {move || secret.get().map(|made| {
            let text = made.secret.clone();
            let name = made.key.name.clone();
            view! {
                <section class="secret-once" role="status" data-testid="secret-once"
                    aria-label="New secret">
                    <h2>{format!("The secret of \u{201c}{name}\u{201d}")}</h2>
                    <p>"Copy it now and store it where the client keeps secrets: it is never shown again."</p>
                    <code class="secret" data-testid="secret">{made.secret.clone()}</code>
                    <div class="form-actions">
                        <super::CopyButton text=move || text.clone() label="Copy secret" testid="copy-secret"/>
                        <button type="button" class="secondary" data-testid="secret-done"
                            on:click=move |_| secret.set(None)>"Done"</button>
                    </div>
                </section>
            }
        })}
    }
}
