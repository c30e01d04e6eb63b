//! `/exports` itself: the schedules (each exports its periods, daily, weekly, monthly or by a
//! cron expression, as CSV, JSON, NDJSON, a PDF report or an archive bundle, into a folder of the server's export directory or an
//! S3-compatible bucket under Object Lock), a
//! form to make one (prefilled from the audit log's "Schedule this export": `?new=1&filter=…`)
//! or change one, "Run now", and the history of every run with its status, size, SHA-256 and
//! a download; the retention policy; then month by month, which entries archives hold. Admins change schedules;
//! compliance officers see and download. The server checks each call.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::exports::list_schedules;
use crate::api::whoami;
use crate::components::schedule_form::FORMATS;
use crate::components::{
    ArchiveMonths, ConsoleLayout, Editing, LoadFailed, RetentionPolicyPanel, RunHistory,
    ScheduleForm, ScheduleTable,
};
use crate::model::Role;

#[component]
pub fn ExportsPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <ConsoleLayout user=me>
            <Suspense fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(user) if user.role.can_read_log() => {
                        EitherOf3::A(view! { <ExportsView admin=user.role == Role::Admin/> })
                    }
                    Ok(_) => EitherOf3::B(view! {
                        <div class="state-message" role="alert">
                            <h1>"Exports"</h1>
                            <p>{crate::error::ConsoleError::NoAccess.to_string()}</p>
                        </div>
                    }),
                    Err(e) => EitherOf3::C(view! {
                        <div class="state-message error" role="alert">
                            <h1>"Not signed in"</h1>
                            <p>{e.to_string()}</p>
                            <a href="/login?next=/exports">"Sign in"</a>
                        </div>
                    }),
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn ExportsView(admin: bool) -> impl IntoView {
    let query = use_query_map();
    let editing = RwSignal::new(untrack(|| {
        query.with(|q| match q.get("new").as_deref() {
            Some("1") if admin => Editing::New {
                filter: q.get("filter").unwrap_or_default(),
                format: q
                    .get("format")
                    .filter(|f| FORMATS.iter().any(|(v, _)| v == f))
                    .unwrap_or_else(|| "bundle".into()),
            },
            _ => Editing::Closed,
        })
    }));
    let asked_new = untrack(|| query.with(|q| q.get("new").as_deref() == Some("1")));
    // Bumped by every change: the schedules and the history are asked again.
    let changed = RwSignal::new(0u32);
    let schedules = Resource::new(move || changed.get(), |_| list_schedules());
    let message = RwSignal::new(None::<String>);
    view! {
        <div class="page-header">
            <h1>"Exports"</h1>
            <div class="header-actions">
                {admin.then(|| view! {
                    <button type="button" class="primary" data-testid="new-schedule"
                        aria-expanded=move || (editing.get() != Editing::Closed).to_string()
                        on:click=move |_| editing.set(match editing.get_untracked() {
                            Editing::Closed => Editing::New {
                                filter: String::new(),
                                format: "bundle".into(),
                            },
                            _ => Editing::Closed,
                        })>"New schedule"</button>
                })}
            </div>
        </div>
        <p class="page-intro">
            "A schedule exports each period — the previous day, week or month in its time zone, \
             or between the times of a cron expression — once it has ended: as CSV, JSON, \
             NDJSON or a PDF report, each entry with its proof, or as an archive bundle, which \
             adds a consistency proof from the bundle before, so a series of bundles shows no \
             entry was dropped between them. Check one offline with "
            <code>"trailkeep verify-export FILE --key KEY [--previous BUNDLE]"</code>
            ". Every run and download is recorded in the audit log."
        </p>
        {(asked_new && !admin).then(|| view! {
            <p class="state-message" role="status">
                "Only admins make schedules: ask an admin to schedule this export."
            </p>
        })}
        {move || match editing.get() {
            Editing::Closed => None,
            other => Some(view! { <ScheduleForm editing=other done=editing changed/> }),
        }}
        <h2 class="section-title">"Schedules"</h2>
        <p class="form-message" role="status" data-testid="schedule-message">{move || message.get()}</p>
        <Transition fallback=|| view! { <p class="state-message">"Loading schedules…"</p> }>
            {move || schedules.get().map(|r| match r {
                Ok(list) => view! { <ScheduleTable schedules=list admin editing changed message/> }.into_any(),
                Err(e) => view! {
                    <LoadFailed message=e.to_string() changed/>
                }.into_any(),
            })}
        </Transition>
        <h2 class="section-title">"History"</h2>
        <RunHistory changed/>
        <h2 class="section-title">"Retention"</h2>
        <RetentionPolicyPanel admin changed/>
        <h2 class="section-title">"Months"</h2>
        <p class="page-intro">
            "Each month of the log, and whether archive bundles of every entry (unfiltered \
             schedules) hold all of its entries. A month leaves the database only under the \
             retention policy, once its bundle was read back and verified."
        </p>
        <ArchiveMonths changed/>
    }
}
