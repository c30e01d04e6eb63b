//! What alerting did: the latest alerts (fired, resolved, batches), each leading to the
//! entries that triggered it in the audit log, and the delivery log — every notification
//! owed, its status, its attempts (answer or error, latency, next retry) — filtered by status,
//! with Redeliver for a dead one (admins) and older pages on demand.

use leptos::prelude::*;
use uuid::Uuid;

use crate::alerts::DeliveryView;
use crate::api::alerts::{list_alerts, list_deliveries, redeliver};
use crate::format::format_utc;

#[component]
pub fn RecentAlerts(changed: RwSignal<u32>) -> impl IntoView {
    let alerts = Resource::new(move || changed.get(), |_| list_alerts(None, None));
    view! {
        <Transition fallback=|| view! { <p class="state-message">"Loading alerts…"</p> }>
            {move || alerts.get().map(|r| match r {
                Ok(list) if list.is_empty() => view! {
                    <p class="state-message" data-testid="no-alerts">"No alert yet."</p>
                }.into_any(),
                Ok(list) => view! {
                    <div class="admin-table-wrap">
                        <table class="admin-table alert-table" data-testid="alert-table">
                            <thead><tr>
                                <th scope="col">"When"</th>
                                <th scope="col">"Rule"</th>
                                <th scope="col">"What"</th>
                                <th scope="col">"Group"</th>
                                <th scope="col" class="num">"Entries"</th>
                                <th scope="col"><span class="visually-hidden">"Entries in the audit log"</span></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|a| view! {
                                    <tr data-testid="alert-row">
                                        <td><time datetime=a.at.to_rfc3339()>{format_utc(&a.at)}</time></td>
                                        <th scope="row">{a.rule_name.clone()}</th>
                                        <td><span class=format!("alert-kind kind-{}", a.kind)>{a.kind.clone()}</span>
                                            {a.muted.then_some(" (muted: not sent)")}</td>
                                        <td>{a.group.clone().unwrap_or_else(|| "—".into())}</td>
                                        <td class="num">{crate::format::thousands(a.count)}</td>
                                        <td><a data-testid="alert-entries" href=a.link.clone()>"Show entries"</a></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="state-message error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
pub fn DeliveryLog(
    admin: bool,
    changed: RwSignal<u32>,
    /// Only this alert's deliveries (from an entry's "Its deliveries": `?alert=…`).
    alert: Option<Uuid>,
) -> impl IntoView {
    let status = RwSignal::new(String::new());
    let pages = RwSignal::new(Vec::<DeliveryView>::new());
    let next = RwSignal::new(None::<Uuid>);
    let error = RwSignal::new(None::<String>);
    let load = move |after: Option<Uuid>| {
        let s = Some(status.get_untracked()).filter(|s| !s.is_empty());
        leptos::task::spawn_local(async move {
            match list_deliveries(s, alert, after).await {
                Ok((list, more)) => {
                    error.set(None);
                    if after.is_none() {
                        pages.set(list);
                    } else {
                        pages.update(|p| p.extend(list));
                    }
                    next.set(more);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    Effect::new(move |_| {
        changed.track();
        status.track();
        load(None);
    });
    view! {
        {alert.map(|a| view! {
            <p class="state-message" role="status" data-testid="delivery-alert-filter">
                {format!("Deliveries of alert {a}. ")}<a href="/alerts">"Show every delivery"</a>
            </p>
        })}
        <div class="delivery-filters">
            <label>
                <span>"Status"</span>
                <select data-testid="delivery-status" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"all"</option>
                    <option value="pending">"pending"</option>
                    <option value="delivered">"delivered"</option>
                    <option value="dead">"dead (given up)"</option>
                </select>
            </label>
            <button type="button" class="secondary" data-testid="delivery-refresh"
                on:click=move |_| load(None)>"Refresh"</button>
        </div>
        <p class="form-error" role="alert">{move || error.get()}</p>
        {move || {
            let list = pages.get();
            if list.is_empty() {
                return view! { <p class="state-message" data-testid="no-deliveries">"No delivery."</p> }.into_any();
            }
            view! {
                <div class="admin-table-wrap">
                    <table class="admin-table delivery-table" data-testid="delivery-table">
                        <thead><tr>
                            <th scope="col">"Queued"</th>
                            <th scope="col">"Rule"</th>
                            <th scope="col">"Channel"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Attempts"</th>
                            <th scope="col">"Last answer"</th>
                            {admin.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|d| {
                                let id = d.id;
                                let last = d.log.last().map(|a| match (a.status_code, &a.error) {
                                    (Some(code), _) => format!("{code} in {} ms", a.latency_ms),
                                    (None, Some(e)) => e.clone(),
                                    (None, None) => "—".into(),
                                }).unwrap_or_else(|| "not tried yet".into());
                                let status_words = match (d.status.as_str(), d.next_at) {
                                    ("pending", Some(t)) if d.attempts > 0 => format!("retrying at {}", format_utc(&t)),
                                    (s, _) => s.to_string(),
                                };
                                let again = move |_| {
                                    leptos::task::spawn_local(async move {
                                        match redeliver(id).await {
                                            Ok(()) => changed.update(|n| *n += 1),
                                            Err(e) => error.set(Some(e.to_string())),
                                        }
                                    });
                                };
                                view! {
                                    <tr data-testid="delivery-row">
                                        <td><time datetime=d.created_at.to_rfc3339()>{format_utc(&d.created_at)}</time></td>
                                        <td>{d.rule_name.clone().unwrap_or_else(|| "test notification".into())}</td>
                                        <td>{format!("{} ({})", d.channel_name, d.channel_kind)}</td>
                                        <td><span class=format!("delivery-status status-{}", d.status) data-testid="delivery-state">{status_words}</span></td>
                                        <td class="num">{format!("{} of {}", d.attempts, d.give_up_after)}</td>
                                        <td class="delivery-answer" title=d.webhook_id.clone()>{last}</td>
                                        {admin.then(|| view! {
                                            <td class="row-actions">
                                                {(d.status == "dead").then(|| view! {
                                                    <button type="button" class="secondary" data-testid="redeliver"
                                                        on:click=again>"Redeliver"</button>
                                                })}
                                            </td>
                                        })}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
        <Show when=move || next.get().is_some()>
            <button type="button" class="secondary" data-testid="older-deliveries"
                on:click=move |_| load(next.get_untracked())>"Older deliveries"</button>
        </Show>
    }
}
