//! Every export run, scheduled or asked for, newest first, a page at a time: its period, its
//! status (and error, and when it is tried again), how many entries, its size and SHA-256,
//! how long it took, and a download of its bundle (recorded as `export.downloaded`).

use leptos::prelude::*;
use uuid::Uuid;

use crate::api::exports::{list_runs, RUNS_PAGE};
use crate::components::LoadFailed;
use crate::exports::ExportRun;
use crate::format::{format_utc, size_words, thousands};

fn status_words(r: &ExportRun) -> String {
    match r.status.as_str() {
        "succeeded" => "✓ Succeeded".into(),
        "failed" => "✗ Failed".into(),
        "running" => "Running…".into(),
        _ if r.error.is_some() => format!(
            "Retrying at {}",
            r.next_attempt_at
                .map(|t| format_utc(&t))
                .unwrap_or_default()
        ),
        _ => "Waiting".into(),
    }
}

#[component]
pub fn RunHistory(changed: RwSignal<u32>) -> impl IntoView {
    // The pages above the one shown (their `before`), to go back to newer ones.
    let before = RwSignal::new(None::<Uuid>);
    let newer = RwSignal::new(Vec::<Option<Uuid>>::new());
    let runs = Resource::new(
        move || (changed.get(), before.get()),
        |(_, before)| list_runs(before),
    );
    view! {
        <Transition fallback=|| view! { <p class="state-message">"Loading the history…"</p> }>
            {move || runs.get().map(|r| match r {
                Ok(list) if list.is_empty() && before.get().is_none() => view! {
                    <p class="state-message" data-testid="no-runs">"No export has run yet."</p>
                }.into_any(),
                Ok(list) => {
                    let last = list.last().map(|r| r.id);
                    let more = list.len() as i64 == RUNS_PAGE;
                    let rows = list.into_iter().map(|r| view! { <RunRow run=r/> }).collect_view();
                    view! {
                        <div class="admin-table-wrap">
                            <table class="admin-table run-table" data-testid="run-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Period (UTC)"</th>
                                        <th scope="col">"Schedule"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col" class="num">"Entries"</th>
                                        <th scope="col" class="num">"Size"</th>
                                        <th scope="col">"SHA-256"</th>
                                        <th scope="col">"File"</th>
                                    </tr>
                                </thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                        <div class="pager">
                            <button type="button" class="secondary"
                                disabled=move || newer.with(Vec::is_empty)
                                on:click=move |_| {
                                    let mut stack = newer.get_untracked();
                                    if let Some(b) = stack.pop() {
                                        newer.set(stack);
                                        before.set(b);
                                    }
                                }>"Newer"</button>
                            <button type="button" class="secondary" disabled=!more
                                on:click=move |_| {
                                    newer.update(|s| s.push(before.get_untracked()));
                                    before.set(last);
                                }>"Older"</button>
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
fn RunRow(run: ExportRun) -> impl IntoView {
    let period = format!(
        "{} – {}",
        format_utc(&run.period_start),
        format_utc(&run.period_end)
    );
    let status = status_words(&run);
    let error = run.error.clone();
    let sha = run.sha256.clone();
    let in_s3 = run.destination.as_deref() == Some("s3");
    let location = run.object_key.clone().filter(|_| in_s3).map(|key| {
        let version = run.object_version.clone();
        view! {
            <code class="object-location" title=version.map(|v| format!("version {v}"))>{key}</code>
        }
    });
    let download = (run.status == "succeeded" && !in_s3).then(|| {
        let file = run
            .object_key
            .as_deref()
            .and_then(|k| k.rsplit('/').next())
            .unwrap_or("bundle.tar.gz")
            .to_string();
        // CSV and NDJSON hold entries only: their head (filter, period, checkpoint, count)
        // is stored and offered beside them, where verify-export reads it.
        let beside = matches!(run.format.as_deref(), Some("csv" | "ndjson")).then(|| {
            let name = format!("{file}.head.json");
            view! {
                " "
                <a href=format!("/api/v1/exports/runs/{}/download?part=head", run.id)
                    download=name.clone() data-testid="download-run-head"
                    aria-label=format!("Download {name}")>"Head"</a>
            }
        });
        view! {
            <a href=format!("/api/v1/exports/runs/{}/download", run.id) download=file.clone()
                data-testid="download-run" aria-label=format!("Download {file}")>"Download"</a>
            {beside}
        }
    });
    view! {
        <tr data-testid="run-row" data-status=run.status.clone()>
            <td>{period}{run.manual.then(|| view! {
                <span class="muted">" (run now" {run.requested_by.clone().map(|b| format!(" by {b}"))} ")"</span>
            })}</td>
            <td>{run.schedule_name.clone()}</td>
            <td class=format!("run-status {}", run.status)>
                {status}
                {error.map(|e| view! { <div class="run-error">{e}</div> })}
            </td>
            <td class="num">{run.entries.map(thousands)}</td>
            <td class="num">{run.bytes.map(|b| size_words(b as u64))}</td>
            <td>{sha.map(|s| view! { <code title=s.clone()>{s[..12.min(s.len())].to_string()} "…"</code> })}</td>
            <td>{download}{location}</td>
        </tr>
    }
}
