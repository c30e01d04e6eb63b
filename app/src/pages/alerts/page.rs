//! `/alerts` itself: the alert rules with their state (ok, pending, firing, muted), a form to
//! make one (prefilled from the audit log's "New alert rule": `?new=1&filter=…`) or change one,
//! with a preview over the last 7 days; the channels alerts are sent to; the latest alerts,
//! each leading to its entries; and the delivery log. Admins change; compliance officers see.
//! The server checks each call.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::alerts::{list_alert_rules, list_channels};
use crate::api::whoami;
use crate::components::{
    ChannelPanel, ConsoleLayout, DeliveryLog, LoadFailed, RecentAlerts, RuleEditing, RuleForm,
    RuleTable,
};
use crate::model::Role;

#[component]
pub fn AlertsPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <ConsoleLayout user=me>
            <Suspense fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(user) if user.role.can_read_log() => {
                        EitherOf3::A(view! { <AlertsView admin=user.role == Role::Admin/> })
                    }
                    Ok(_) => EitherOf3::B(view! {
                        <div class="state-message" role="alert">
                            <h1>"Alerts"</h1>
                            <p>{crate::error::ConsoleError::NoAccess.to_string()}</p>
                        </div>
                    }),
                    Err(e) => EitherOf3::C(view! {
                        <div class="state-message error" role="alert">
                            <h1>"Not signed in"</h1>
                            <p>{e.to_string()}</p>
                            <a href="/login?next=/alerts">"Sign in"</a>
                        </div>
                    }),
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn AlertsView(admin: bool) -> impl IntoView {
    let query = use_query_map();
    let editing = RwSignal::new(untrack(|| {
        query.with(|q| match q.get("new").as_deref() {
            Some("1") if admin => RuleEditing::New {
                filter: q.get("filter").unwrap_or_default(),
            },
            _ => RuleEditing::Closed,
        })
    }));
    let asked_new = untrack(|| query.with(|q| q.get("new").as_deref() == Some("1")));
    let alert = untrack(|| query.with(|q| q.get("alert").and_then(|a| a.parse().ok())));
    let changed = RwSignal::new(0u32);
    let rules = Resource::new(move || changed.get(), |_| list_alert_rules());
    let channels = Resource::new(move || changed.get(), |_| list_channels());
    let message = RwSignal::new(None::<String>);
    let secret = RwSignal::new(None::<(String, String)>);
    let channel_list =
        Signal::derive(move || channels.get().and_then(Result::ok).unwrap_or_default());
    view! {
        <div class="page-header">
            <h1>"Alerts"</h1>
            <div class="header-actions">
                {admin.then(|| view! {
                    <button type="button" class="primary" data-testid="new-rule"
                        aria-expanded=move || (editing.get() != RuleEditing::Closed).to_string()
                        on:click=move |_| editing.set(match editing.get_untracked() {
                            RuleEditing::Closed => RuleEditing::New { filter: String::new() },
                            _ => RuleEditing::Closed,
                        })>"New rule"</button>
                })}
            </div>
        </div>
        <p class="page-intro">
            "A rule watches the entries its filter matches as they are recorded, and notifies \
             on every match, when at least N match within a window (per actor, IP, resource or \
             source, resolved once the count falls back), or when nothing matches for a window. \
             Each alert and each delivery is recorded in the audit log."
        </p>
        {(asked_new && !admin).then(|| view! {
            <p class="state-message" role="status">
                "Only admins make alert rules: ask an admin to make this one."
            </p>
        })}
        {move || match editing.get() {
            RuleEditing::Closed => None,
            other => Some(view! { <RuleForm editing=other done=editing changed channels=channel_list/> }),
        }}
        <h2 class="section-title">"Rules"</h2>
        <p class="form-message" role="status" data-testid="alerts-message">{move || message.get()}</p>
        <Transition fallback=|| view! { <p class="state-message">"Loading rules…"</p> }>
            {move || rules.get().map(|r| match r {
                Ok(list) => {
                    let known = channels.get().and_then(Result::ok).unwrap_or_default();
                    view! { <RuleTable rules=list channels=known admin editing changed message/> }.into_any()
                }
                Err(e) => view! { <LoadFailed message=e.to_string() changed/> }.into_any(),
            })}
        </Transition>
        <h2 class="section-title">"Channels"</h2>
        <Transition fallback=|| view! { <p class="state-message">"Loading channels…"</p> }>
            {move || channels.get().map(|r| match r {
                Ok(list) => view! { <ChannelPanel channels=list admin changed message secret/> }.into_any(),
                Err(e) => view! { <LoadFailed message=e.to_string() changed/> }.into_any(),
            })}
        </Transition>
        <h2 class="section-title">"Latest alerts"</h2>
        <RecentAlerts changed/>
        <h2 class="section-title" id="delivery-log">"Delivery log"</h2>
        <DeliveryLog admin changed alert/>
    }
}
