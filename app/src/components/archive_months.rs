//! Month by month, which of the log's entries are archived: each UTC month from the first
//! entry to now with the entries recorded in it (its seq range), whether unfiltered archive
//! bundles hold all of them, some, or none, and where those bundles are. A month is whole only
//! when every seq of it is in a bundle (the server decides on seqs, not dates). A month that
//! retention dropped is archived only.

use leptos::prelude::*;

use crate::api::exports::list_archive_months;
use crate::components::LoadFailed;
use crate::exports::ArchiveMonth;
use crate::format::thousands;

fn archived_words(m: &ArchiveMonth) -> &'static str {
    match m.archived.as_str() {
        "whole" => "✓ Archived",
        "partly" => "Partly archived",
        "empty" => "Nothing recorded",
        _ => "Not archived",
    }
}

#[component]
pub fn ArchiveMonths(changed: RwSignal<u32>) -> impl IntoView {
    let months = Resource::new(move || changed.get(), |_| list_archive_months());
    view! {
        <Transition fallback=|| view! { <p class="state-message">"Loading the months…"</p> }>
            {move || months.get().map(|r| match r {
                Ok(list) if list.is_empty() => view! {
                    <p class="state-message" data-testid="no-months">"The log holds no entry yet."</p>
                }.into_any(),
                Ok(list) => {
                    let rows = list.into_iter().map(|m| view! { <MonthRow month=m/> }).collect_view();
                    view! {
                        // Focusable: a keyboard reaches what scrolls sideways (it holds no link).
                        <div class="admin-table-wrap" tabindex="0" role="region"
                            aria-label="Months of the log">
                            <table class="admin-table month-table" data-testid="month-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Month (UTC)"</th>
                                        <th scope="col" class="num">"Entries"</th>
                                        <th scope="col">"Seqs"</th>
                                        <th scope="col">"Online"</th>
                                        <th scope="col">"Archived"</th>
                                        <th scope="col">"Bundles"</th>
                                    </tr>
                                </thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                    }.into_any()
                }
                Err(e) => view! {
                    <LoadFailed message=e.to_string() changed/>
                }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn MonthRow(month: ArchiveMonth) -> impl IntoView {
    let label = month.start.format("%B %Y").to_string();
    let seqs = if month.entries == 0 {
        "—".to_string()
    } else {
        format!("{} – {}", month.first_seq, month.end_seq - 1)
    };
    let words = archived_words(&month);
    let bundles = month
        .archives
        .iter()
        .map(|a| {
            let title = a.version.as_ref().map(|v| format!("version {v}"));
            view! {
                <li>
                    <code class="object-location" title=title>{a.location.clone()}</code>
                    <span class="muted">{format!(" seqs {} – {}", a.first_seq, a.end_seq - 1)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <tr data-testid="month-row" data-archived=month.archived.clone()>
            <th scope="row">{label}</th>
            <td class="num">{thousands(month.entries)}</td>
            <td>{seqs}</td>
            <td data-testid="month-online">{
                if !month.online {
                    "Dropped: archive only"
                } else if month.entries > 0 {
                    "✓ Online"
                } else {
                    "—"
                }
            }</td>
            <td class=format!("month-archived {}", month.archived)>{words}</td>
            <td><ul class="month-bundles">{bundles}</ul></td>
        </tr>
    }
}
