//! `/audit`: the audit log, newest first.

use leptos::prelude::*;

use crate::{
    api::{recent_entries, NO_ACCESS},
    components::{ConsoleLayout, EntryTable},
};

#[component]
pub fn AuditPage() -> impl IntoView {
    let entries = Resource::new(|| (), |_| recent_entries());
    view! {
        <ConsoleLayout>
            <div class="page-header">
                <h1>"Audit Log"</h1>
                <button class="secondary" data-testid="refresh" on:click=move |_| entries.refetch()>
                    "Refresh"
                </button>
            </div>
            <Transition fallback=|| view! { <p class="state-message">"Loading entries…"</p> }>
                {move || entries.get().map(|result| match result {
                    Ok(list) => view! { <EntryTable entries=list/> }.into_any(),
                    Err(e) if e.to_string().contains(NO_ACCESS) => view! {
                        <div class="state-message" role="alert">
                            <h2>"No access"</h2>
                            <p>"Only admins and compliance officers can view the audit log. Ask an admin if you need access."</p>
                        </div>
                    }.into_any(),
                    Err(e) => view! {
                        <div class="state-message error" role="alert">
                            <h2>"The entries could not be loaded"</h2>
                            <p>{e.to_string()}</p>
                            <button class="secondary" on:click=move |_| entries.refetch()>"Retry"</button>
                        </div>
                    }.into_any(),
                })}
            </Transition>
        </ConsoleLayout>
    }
}
