//! `/audit` itself: the log for admins and compliance officers, a refusal for other members,
//! a way to sign in for everyone else.

use leptos::either::EitherOf3;
use leptos::prelude::*;

use super::log::AuditLog;
use super::states::NoAccess;
use crate::api::whoami;
use crate::components::ConsoleLayout;

#[component]
pub fn AuditPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <ConsoleLayout user=me>
            <Suspense fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(user) if user.role.can_read_log() => EitherOf3::A(view! { <AuditLog/> }),
                    Ok(_) => EitherOf3::B(view! { <NoAccess/> }),
                    Err(e) => EitherOf3::C(view! {
                        <div class="state-message error" role="alert">
                            <h2>"Not signed in"</h2>
                            <p>{e.to_string()}</p>
                            <a href="/login">"Sign in"</a>
                        </div>
                    }),
                })}
            </Suspense>
        </ConsoleLayout>
    }
}
