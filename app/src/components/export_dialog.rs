//! "Export": a dialog to download exactly the entries on screen (the URL's filter) as CSV,
//! JSON, NDJSON or a PDF report, from `/api/v1/events/export`.

use leptos::either::Either;
use leptos::prelude::*;

use crate::api::exact_count;
use crate::chunks::{when_loaded, Chunk};
use crate::components::ChipWords;
use crate::console_state::ConsoleNav;
use crate::filter::CanonicalFilter;
use crate::format::{size_words, thousands};
use crate::hydration::Hydrated;

/// Up to this many entries the browser fetches the file itself and shows progress; above it
/// the attachment URL streams straight to disk (the browser's download shows progress).
const IN_PAGE_LIMIT: i64 = 100_000;

/// A PDF report holds at most this many entries (the server refuses more: `report::MAX_ENTRIES`).
pub const PDF_LIMIT: i64 = 100_000;

const FORMATS: [(&str, &str, &str); 4] = [
    ("csv", "CSV", "spreadsheets (Excel, LibreOffice, Sheets)"),
    ("json", "JSON", "SIEM tools and programs: one document"),
    (
        "ndjson",
        "NDJSON",
        "log pipelines (Splunk, Elastic, Loki): one entry per line",
    ),
    (
        "pdf",
        "PDF",
        "a report to read, print or attach as evidence (up to 100,000 entries)",
    ),
];

/// What the download is doing.
#[derive(Clone, Debug, PartialEq)]
// The server renders the dialog closed; only the browser downloads.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum Progress {
    Idle,
    Receiving {
        bytes: u64,
    },
    Done {
        bytes: u64,
        file: String,
        /// The size of the checkpoint its proofs lead to (what travels beside it).
        checkpoint: Option<u64>,
    },
    /// Handed to the browser's own download (large exports).
    ToDisk,
    Failed(String),
}

#[component]
pub fn ExportButton() -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <button type="button" class="primary" data-testid="export"
            aria-haspopup="dialog" on:click=move |_| open.set(true)>"Export"</button>
        <Show when=move || open.get()>
            <DialogFrame open/>
        </Show>
    }
}

/// The dialog's frame (closed by Escape, the backdrop or Close); what fills it is a chunk of
/// its own, fetched when the dialog first opens.
#[component]
fn DialogFrame(open: RwSignal<bool>) -> impl IntoView {
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            open.set(false);
        }
    });
    on_cleanup(move || escape.remove());
    // Focus moves into the dialog when it opens, stays in it (Tab wraps), and goes back to
    // Export when it closes.
    crate::components::return_focus_on_close();
    let dialog = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = dialog.get() {
            let _ = el.focus();
        }
    });
    view! {
        <div class="dialog-backdrop" on:click=move |_| open.set(false)></div>
        <div class="export-dialog" role="dialog" aria-modal="true" aria-labelledby="export-title"
            data-testid="export-dialog" tabindex="-1" node_ref=dialog
            on:keydown=move |ev| {
                if let Some(el) = dialog.get_untracked() {
                    crate::components::trap_tab(&ev, &el);
                }
            }>
            <h2 id="export-title">"Export entries"</h2>
            {when_loaded(Box::pin(export_dialog(open)))}
        </div>
    }
}

#[wasm_split_helpers::wasm_split(export_dialog, fallible)]
fn export_dialog(open: RwSignal<bool>) -> Chunk {
    Ok(view! { <ExportDialog open/> }.into_any())
}

#[component]
fn ExportDialog(open: RwSignal<bool>) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let words = expect_context::<ChipWords>();
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    let filter = nav.filter_untracked();
    let canonical = CanonicalFilter::from(&filter);
    let labels: Vec<String> = untrack(|| words.chips(nav, hydrated))
        .into_iter()
        .map(|c| c.label)
        .collect();
    let narrowed = !labels.is_empty();
    let format = RwSignal::new("csv");
    let progress = RwSignal::new(Progress::Idle);
    let count = LocalResource::new({
        let canonical = canonical.clone();
        move || exact_count(canonical.clone(), None)
    });
    let url = {
        let canonical = canonical.clone();
        move || {
            let sep = if canonical.as_str().is_empty() {
                ""
            } else {
                "&"
            };
            format!(
                "/api/v1/events/export?format={}{sep}{canonical}",
                format.get()
            )
        }
    };
    let total = move || count.get().and_then(|r| r.ok()).map(|c| c.count);
    let pdf_too_large = move || format.get() == "pdf" && total().is_some_and(|n| n > PDF_LIMIT);
    let download = {
        let url = url.clone();
        move |_| {
            let href = url();
            if total().is_none_or(|n| n > IN_PAGE_LIMIT) {
                // Large, or not counted yet: straight to disk through the attachment URL, once
                // the session is known to hold (else the browser would show the API's refusal
                // in place of the console; the ended session is reported instead).
                #[cfg(feature = "hydrate")]
                leptos::task::spawn_local(async move {
                    if crate::api::whoami().await != Err(crate::error::ConsoleError::SignedOut) {
                        let _ = window().location().set_href(&href);
                        progress.set(Progress::ToDisk);
                    } else {
                        progress.set(Progress::Failed(
                            crate::error::ConsoleError::SignedOut.to_string(),
                        ));
                    }
                });
                #[cfg(not(feature = "hydrate"))]
                let _ = href;
                return;
            }
            progress.set(Progress::Receiving { bytes: 0 });
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(async move {
                let result = fetch_to_file(&href, progress).await;
                progress.set(match result {
                    Ok((bytes, file, checkpoint)) => Progress::Done {
                        bytes,
                        file,
                        checkpoint,
                    },
                    Err(e) => Progress::Failed(e),
                });
            });
        }
    };
    let close = move |_| open.set(false);
    view! {
        <fieldset>
            <legend>"Format"</legend>
            {FORMATS.map(|(value, name, use_case)| view! {
                <label class="format-choice">
                    <input type="radio" name="export-format" value=value
                        prop:checked=move || format.get() == value
                        on:change=move |_| format.set(value)/>
                    <strong>{name}</strong>
                    <span class="muted">" — " {use_case}</span>
                </label>
            })}
        </fieldset>
        <h3>"Filters"</h3>
        {if narrowed {
            Either::Left(view! { <ul class="export-filters">{labels.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul> })
        } else {
            Either::Right(view! { <p>"None: every entry in the log."</p> })
        }}
        <p data-testid="export-count">
            {move || match count.get() {
                None => "Counting…".to_string(),
                Some(Ok(c)) if c.count == 1 => "Exactly 1 entry will be exported.".to_string(),
                Some(Ok(c)) => format!("Exactly {} entries will be exported.", thousands(c.count)),
                Some(Err(e)) => e.to_string(),
            }}
        </p>
        <Show when=move || narrowed>
            <p class="muted">"For a complete export, clear all filters."</p>
        </Show>
        <Show when=pdf_too_large>
            <div class="export-limit" role="alert" data-testid="pdf-limit">
                <p>
                    {move || format!(
                        "A PDF report holds at most {} entries, so that it stays readable and can be \
                         produced in one piece; these filters match {}. Narrow the filters, or export \
                         CSV, which has no limit.",
                        thousands(PDF_LIMIT),
                        thousands(total().unwrap_or_default()),
                    )}
                </p>
                <button type="button" class="secondary" on:click=move |_| format.set("csv")>"Export CSV instead"</button>
            </div>
        </Show>
        <p role="status" data-testid="export-progress">
            {move || match progress.get() {
                Progress::Idle => String::new(),
                Progress::Receiving { bytes } => format!("Downloading… {} received", size_words(bytes)),
                Progress::Done { bytes, file, .. } => format!("Done: {file} ({}) saved.", size_words(bytes)),
                Progress::ToDisk => "Large export: your browser's downloads show its progress.".to_string(),
                Progress::Failed(m) => m,
            }}
        </p>
        {move || match progress.get() {
            // CSV and NDJSON hold entries only: the signed checkpoint travels beside them.
            Progress::Done { file, checkpoint: Some(size), .. } if !file.ends_with(".pdf") && !file.ends_with(".json") => {
                let stem = file.rsplit_once('.').map_or(file.clone(), |(stem, _)| stem.to_string());
                Some(view! {
                    <p class="export-checkpoint" data-testid="export-checkpoint">
                        "Keep the signed checkpoint its proofs lead to beside it: "
                        <a href=format!("/api/v1/integrity/checkpoint?size={size}")
                            download=format!("{stem}.checkpoint")>{format!("{stem}.checkpoint")}</a>
                        " (" <code>"trailkeep verify-export"</code> " reads it from there)."
                    </p>
                })
            }
            _ => None,
        }}
        <p class="export-schedule">
            "Needed every day, week or month? "
            <a data-testid="schedule-export"
                href=move || format!(
                    "/exports?new=1&format={}&filter={}",
                    format.get(),
                    crate::filter::percent_encode(canonical.as_str())
                )>
                "Schedule this export"</a>
            " (admins): each day, week or month as this format, or as an archive bundle \
             verifiable offline."
        </p>
        <div class="dialog-actions">
            <button type="button" class="secondary" on:click=close>"Close"</button>
            <button type="button" class="primary" data-testid="export-download"
                disabled=move || matches!(progress.get(), Progress::Receiving { .. }) || pdf_too_large()
                on:click=download>"Download"</button>
        </div>
    }
}

/// Fetches `url`, reporting bytes as they arrive, and saves the result under the server's
/// file name.
#[cfg(feature = "hydrate")]
async fn fetch_to_file(
    url: &str,
    progress: RwSignal<Progress>,
) -> Result<(u64, String, Option<u64>), String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let failed = |what: &str| format!("The export failed: {what}");
    let response: web_sys::Response = JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|_| failed("the server could not be reached"))?
        .unchecked_into();
    if response.status() == 401 {
        crate::session::report_ended();
        return Err(crate::error::ConsoleError::SignedOut.to_string());
    }
    if !response.ok() {
        let text = match response.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
            Err(_) => None,
        };
        return Err(failed(
            &text.unwrap_or_else(|| response.status().to_string()),
        ));
    }
    let file = response
        .headers()
        .get("content-disposition")
        .ok()
        .flatten()
        .and_then(|d| {
            d.split("filename=\"")
                .nth(1)
                .map(|f| f.trim_end_matches('"').to_string())
        })
        .unwrap_or_else(|| "trailkeep-audit-export".into());
    let checkpoint = response
        .headers()
        .get("x-trailkeep-checkpoint-size")
        .ok()
        .flatten()
        .and_then(|n| n.parse().ok());
    let body = response.body().ok_or_else(|| failed("empty response"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let chunks = js_sys::Array::new();
    let mut bytes = 0u64;
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|_| failed("the connection was interrupted"))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        if let Ok(value) = js_sys::Reflect::get(&chunk, &"value".into()) {
            let array: js_sys::Uint8Array = value.unchecked_into();
            bytes += u64::from(array.length());
            chunks.push(&array);
            progress.set(Progress::Receiving { bytes });
        }
    }
    let blob = web_sys::Blob::new_with_u8_array_sequence(&chunks)
        .map_err(|_| failed("the browser could not hold the file"))?;
    let href = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|_| failed("the browser could not save the file"))?;
    let anchor: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(|_| failed("no document"))?
        .unchecked_into();
    anchor.set_href(&href);
    anchor.set_download(&file);
    anchor.click();
    // Revoked once the browser has surely taken the file.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&href);
        },
        std::time::Duration::from_secs(60),
    );
    Ok((bytes, file, checkpoint))
}
