//! `/account` itself: who is signed in, and their second factor. Every call acts on the
//! caller's own account only (the server functions take no user id).

use leptos::either::Either;
use leptos::prelude::*;

use crate::api::whoami;
use crate::components::{ConsoleLayout, PasswordForm, SessionList, TwoFactorPanel};

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <ConsoleLayout user=me>
            <Suspense fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(user) => Either::Left(view! {
                        <div class="page-header">
                            <h1>"Account"</h1>
                        </div>
                        <dl class="account-facts" data-testid="account-facts">
                            <dt>"Name"</dt><dd>{user.name.clone()}</dd>
                            <dt>"Email"</dt><dd>{user.email.clone()}</dd>
                            <dt>"Role"</dt><dd>{role_words(user.role)}</dd>
                        </dl>
                        <TwoFactorPanel/>
                        <PasswordForm email=user.email.clone()/>
                        <SessionList/>
                    }),
                    Err(e) => Either::Right(view! {
                        <div class="state-message error" role="alert">
                            <h1>"Not signed in"</h1>
                            <p>{e.to_string()}</p>
                            <a href="/login?next=/account">"Sign in"</a>
                        </div>
                    }),
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

fn role_words(role: crate::model::Role) -> &'static str {
    match role {
        crate::model::Role::Admin => "Admin",
        crate::model::Role::Compliance => "Compliance officer",
        crate::model::Role::Member => "Member",
    }
}
