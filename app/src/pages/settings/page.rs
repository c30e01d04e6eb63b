//! `/settings` itself: the settings in force, as a form (admins), or why it is not shown.

use leptos::either::EitherOf3;
use leptos::prelude::*;

use crate::api::settings::read_settings;
use crate::api::whoami;
use crate::components::{ConsoleLayout, SettingsForm};
use crate::model::Role;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <ConsoleLayout user=me>
            <Suspense fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(user) if user.role == Role::Admin => EitherOf3::A(view! { <SettingsAdmin/> }),
                    Ok(_) => EitherOf3::B(view! {
                        <div class="state-message" role="alert">
                            <h1>"Settings"</h1>
                            <p>{crate::error::ConsoleError::AdminOnly.to_string()}</p>
                        </div>
                    }),
                    Err(e) => EitherOf3::C(view! {
                        <div class="state-message error" role="alert">
                            <h1>"Not signed in"</h1>
                            <p>{e.to_string()}</p>
                            <a href="/login?next=/settings">"Sign in"</a>
                        </div>
                    }),
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn SettingsAdmin() -> impl IntoView {
    let settings = Resource::new(|| (), |_| read_settings());
    view! {
        <div class="page-header">
            <h1>"Settings"</h1>
        </div>
        <p class="page-intro">
            "These apply to everyone who signs in to this site. Every change is recorded in the \
             audit log with its value before and after."
        </p>
        <Transition fallback=|| view! { <p class="state-message">"Loading settings…"</p> }>
            {move || settings.get().map(|r| match r {
                Ok(saved) => view! { <SettingsForm saved/> }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}
