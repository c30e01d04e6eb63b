//! `/keys` itself: every API key with what it may do, who made it, when it was last used and
//! when it expires; create, rotate and revoke, each recorded in the log by Trailkeep. Admins
//! only (the server functions check it again on every call). `?show=all` also lists revoked and
//! expired keys: a view, so it is in the URL.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::keys::list_keys;
use crate::api::whoami;
use crate::components::{ConsoleLayout, KeyTable, LoadFailed, NewKeyForm, SecretOnce};
use crate::keys::NewSecret;
use crate::model::Role;

#[component]
pub fn KeysPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <ConsoleLayout user=me>
            <Suspense fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(user) if user.role == Role::Admin => EitherOf3::A(view! { <KeysAdmin/> }),
                    Ok(_) => EitherOf3::B(view! {
                        <div class="state-message" role="alert">
                            <h1>"API keys"</h1>
                            <p>{crate::error::ConsoleError::AdminOnly.to_string()}</p>
                        </div>
                    }),
                    Err(e) => EitherOf3::C(view! {
                        <div class="state-message error" role="alert">
                            <h1>"Not signed in"</h1>
                            <p>{e.to_string()}</p>
                            <a href="/login?next=/keys">"Sign in"</a>
                        </div>
                    }),
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn KeysAdmin() -> impl IntoView {
    let query = use_query_map();
    let show_all = Memo::new(move |_| query.with(|q| q.get("show").as_deref() == Some("all")));
    // Bumped by every change: the list is asked again.
    let changed = RwSignal::new(0u32);
    let keys = Resource::new(move || changed.get(), |_| list_keys());
    let secret = RwSignal::new(None::<NewSecret>);
    let creating = RwSignal::new(false);
    view! {
        <div class="page-header">
            <h1>"API keys"</h1>
            <div class="header-actions">
                <a class="button secondary" data-testid="keys-show"
                    href=move || if show_all.get() { "/keys" } else { "/keys?show=all" }>
                    {move || if show_all.get() { "Hide revoked and expired" } else { "Show revoked and expired" }}
                </a>
                <button type="button" class="primary" data-testid="new-key"
                    aria-expanded=move || creating.get().to_string()
                    on:click=move |_| creating.update(|c| *c = !*c)>"New key"</button>
            </div>
        </div>
        <p class="page-intro">
            "Platforms send events with a key of scope " <strong>"ingest"</strong> " (or "
             <strong>"import"</strong> " for a history of past events); tools that \
             read, export or watch the log use " <strong>"read"</strong> ". A key's secret is \
             shown once, when it is made; Trailkeep keeps only its hash. Every change here is \
             recorded in the audit log."
        </p>
        <Show when=move || creating.get()>
            <NewKeyForm changed secret done=creating/>
        </Show>
        <SecretOnce secret/>
        <Transition fallback=|| view! { <p class="state-message">"Loading keys…"</p> }>
            {move || keys.get().map(|r| match r {
                Ok(all) => {
                    let now = crate::format::now();
                    let total = all.len();
                    let shown: Vec<_> = all
                        .into_iter()
                        .filter(|k| show_all.get() || k.status(now).is_live())
                        .collect();
                    let hidden = total - shown.len();
                    view! {
                        <KeyTable keys=shown changed secret/>
                        <p class="keys-hidden" data-testid="keys-hidden">
                            {(hidden > 0 && !show_all.get()).then(|| format!(
                                "{hidden} revoked or expired {} not shown.",
                                if hidden == 1 { "key is" } else { "keys are" },
                            ))}
                        </p>
                    }.into_any()
                }
                Err(e) => view! {
                    <LoadFailed message=e.to_string() changed heading="The keys could not be loaded"/>
                }.into_any(),
            })}
        </Transition>
    }
}
