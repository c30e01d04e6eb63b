//! The table of entries, virtualized: only the rows in view (plus a margin) are in the DOM,
//! however many are loaded; scrolling near the end loads the next page by cursor.

use leptos::either::EitherOf3;
use leptos::{ev, html, prelude::*};

use crate::api::search_entries;
use crate::console_state::ConsoleNav;
use crate::filter::CanonicalFilter;
use crate::format::{format_wall, thousands};
use crate::hydration::Hydrated;
use crate::live_feed::LiveFeed;
use crate::model::{ActorType, AuditEntry, EntryPage, Status};

/// Every row is this tall (CSS keeps it so): the scroll offset says which rows are in view.
pub const ROW_PX: usize = 36;
const ROW_HEIGHT: f64 = ROW_PX as f64;
/// Rows rendered above and below the viewport.
const OVERSCAN: usize = 20;
/// The viewport assumed before the browser measures it (the server render).
const FIRST_VIEWPORT: f64 = 720.0;

/// Which rows `[first, last)` to render for a scroll offset.
pub fn rows_in_view(scroll_top: f64, viewport: f64, loaded: usize) -> (usize, usize) {
    let top = (scroll_top.max(0.0) / ROW_HEIGHT) as usize;
    let first = top.saturating_sub(OVERSCAN).min(loaded);
    let visible = (viewport.max(0.0) / ROW_HEIGHT).ceil() as usize;
    let last = (top + visible + OVERSCAN).min(loaded);
    (first, last.max(first))
}

#[component]
pub fn EntryTable(first_page: EntryPage, filter: CanonicalFilter) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    let filter = StoredValue::new(filter);
    // The newest entry shown: live arrivals at or below it are already in the table.
    let newest = StoredValue::new(first_page.snapshot_seq);
    let rows = RwSignal::new(first_page.entries);
    let next = RwSignal::new(first_page.next_cursor);
    let loading = RwSignal::new(false);
    let load_error = RwSignal::new(None::<String>);
    let scroll_top = RwSignal::new(0.0);
    let viewport = RwSignal::new(FIRST_VIEWPORT);
    let selected = RwSignal::new(None::<i64>);
    let scroller = NodeRef::<html::Div>::new();
    let tz = Memo::new(move |_| nav.filter().tz);
    let open_id = Memo::new(move |_| nav.query.with(|q| q.entry));

    let window =
        Memo::new(move |_| rows_in_view(scroll_top.get(), viewport.get(), rows.with(Vec::len)));

    let load_more = move || {
        let Some(cursor) = next.get_untracked() else {
            return;
        };
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        load_error.set(None);
        leptos::task::spawn_local(async move {
            match search_entries(filter.get_value(), Some(cursor)).await {
                Ok(page) => {
                    rows.update(|r| r.extend(page.entries));
                    next.set(page.next_cursor);
                }
                Err(e) => load_error.set(Some(e.to_string())),
            }
            loading.set(false);
        });
    };
    // Near the end of what is loaded, and more exists: fetch it (again once it arrives, if the
    // viewport still reaches the end).
    Effect::new(move |_| {
        let (_, last) = window.get();
        let near_end = last + OVERSCAN >= rows.with(Vec::len);
        if near_end
            && next.with(Option::is_some)
            && !loading.get()
            && load_error.with(Option::is_none)
        {
            load_more();
        }
    });
    let measure = move || {
        if let Some(el) = scroller.get_untracked() {
            viewport.set(el.client_height() as f64);
        }
    };
    Effect::new(move |_| {
        if scroller.get().is_some() {
            measure();
        }
    });
    let resize = window_event_listener(ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());

    // Live mode: arrivals go on top while the view is at the top and not paused; otherwise
    // they wait behind the "new entries" pill, so reading further down is never yanked.
    let feed = use_context::<LiveFeed>();
    let fresh = RwSignal::new(Vec::<i64>::new());
    let at_top = Memo::new(move |_| scroll_top.get() < ROW_HEIGHT);
    let waiting = move || {
        feed.filter(|f| !f.paused.get())
            .map_or(0, |f| f.arrived.with(Vec::len))
    };
    Effect::new(move |_| {
        let Some(feed) = feed else { return };
        if !at_top.get() || feed.paused.get() || feed.arrived.with(Vec::is_empty) {
            return;
        }
        let arrived = feed.arrived.try_update(std::mem::take).unwrap_or_default();
        let shown = newest.get_value();
        let new: Vec<AuditEntry> = arrived.into_iter().filter(|e| e.seq > shown).collect();
        let Some(top) = new.iter().map(|e| e.seq).max() else {
            return;
        };
        newest.set_value(top);
        let seqs: Vec<i64> = new.iter().map(|e| e.seq).collect();
        fresh.update(|f| f.extend(seqs.iter().copied()));
        rows.update(|r| {
            let mut merged: Vec<AuditEntry> = new.into_iter().rev().collect();
            merged.append(r);
            *r = merged;
        });
        set_timeout(
            move || fresh.update(|f| f.retain(|s| !seqs.contains(s))),
            std::time::Duration::from_secs(3),
        );
    });

    // Keyboard: arrows move the selection (keeping it in view), Enter opens it. While the
    // detail panel is open, the arrows move the open entry too, wherever the focus is (but
    // not while typing).
    let on_key = move |ev: ev::KeyboardEvent| {
        let panel_open = open_id.get_untracked().is_some();
        let step: isize = match ev.key().as_str() {
            "ArrowDown" => 1,
            "ArrowUp" => -1,
            "Enter" => {
                let id = selected.get_untracked().and_then(|seq| {
                    rows.with_untracked(|r| r.iter().find(|e| e.seq == seq).map(|e| e.id))
                });
                if let Some(id) = id {
                    ev.prevent_default();
                    nav.open_entry(id);
                }
                return;
            }
            _ => return,
        };
        ev.prevent_default();
        let n = rows.with_untracked(Vec::len);
        if n == 0 {
            return;
        }
        // From the open entry when there is one, else from the selection.
        let current = open_id
            .get_untracked()
            .and_then(|id| rows.with_untracked(|r| r.iter().position(|e| e.id == id)))
            .or_else(|| {
                selected
                    .get_untracked()
                    .and_then(|seq| rows.with_untracked(|r| r.iter().position(|e| e.seq == seq)))
            });
        let index = match current {
            None => 0,
            Some(i) => (i as isize + step).clamp(0, n as isize - 1) as usize,
        };
        let (seq, id) = rows.with_untracked(|r| (r[index].seq, r[index].id));
        selected.set(Some(seq));
        if panel_open && open_id.get_untracked() != Some(id) {
            nav.open_entry(id);
        }
        if let Some(el) = scroller.get_untracked() {
            let top = index as f64 * ROW_HEIGHT;
            let header = ROW_HEIGHT;
            let view_h = el.client_height() as f64 - header;
            let scrolled = el.scroll_top() as f64;
            if top < scrolled {
                el.set_scroll_top(top as i32);
            } else if top + ROW_HEIGHT > scrolled + view_h {
                el.set_scroll_top((top + ROW_HEIGHT - view_h) as i32);
            }
        }
    };

    // Arrows pressed elsewhere on the page (the panel, the header) while an entry is open.
    let keys = window_event_listener(ev::keydown, move |ev| {
        let in_table = scroller.get_untracked().is_some_and(|el| {
            ev.target()
                .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Node>(t).ok())
                .is_some_and(|t| el.contains(Some(&t)))
        });
        // The raw JSON (focusable) scrolls with the arrows.
        let in_scrollable = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .and_then(|el| el.closest("pre, textarea, select").ok().flatten())
            .is_some();
        if in_table
            || in_scrollable
            || ev.default_prevented()
            || open_id.get_untracked().is_none()
            || !matches!(ev.key().as_str(), "ArrowUp" | "ArrowDown")
            || crate::components::typing(&ev)
        {
            return;
        }
        on_key(ev);
    });
    on_cleanup(move || keys.remove());

    let zone_heading = move || match tz.get() {
        Some(z) => format!("Timestamp ({z})"),
        None => "Timestamp (UTC)".to_string(),
    };
    view! {
        <div class="table-area">
        // Above the table, never over a row.
        <Show when=move || { !at_top.get() && waiting() > 0 }>
                <button type="button" class="new-entries-pill" data-testid="new-entries"
                    on:click=move |_| {
                        if let Some(el) = scroller.get_untracked() {
                            el.set_scroll_top(0);
                        }
                    }>
                    {move || match waiting() {
                        1 => "↑ 1 new entry".to_string(),
                        n => format!("↑ {} new entries", thousands(n as i64)),
                    }}
                </button>
            </Show>
        <div
            class="table-scroll"
            node_ref=scroller
            tabindex="0"
            role="region"
            aria-label="Audit entries: arrow keys move, Enter opens"
            data-testid="entry-scroll"
            data-shown-filter=filter.with_value(|f| f.to_string())
            on:scroll=move |ev| {
                let el: web_sys::Element = event_target(&ev);
                scroll_top.set(el.scroll_top() as f64);
            }
            on:keydown=on_key
        >
            <table class="entry-table" class:zoned=move || tz.with(Option::is_some) aria-rowcount=move || rows.with(Vec::len) + 1>
                <thead>
                    <tr>
                        <th scope="col" class="col-ts">{zone_heading}</th>
                        <th scope="col" class="col-user">"User"</th>
                        <th scope="col" class="col-action">"Action"</th>
                        <th scope="col" class="col-resource opt">"Resource"</th>
                        <th scope="col" class="col-ip opt">"IP Address"</th>
                        <th scope="col" class="col-status">"Status"</th>
                        <th scope="col" class="col-details opt">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    <tr class="spacer" aria-hidden="true">
                        <td colspan="7" style:height=move || format!("{}px", window.get().0 * ROW_PX)></td>
                    </tr>
                    <For
                        each=move || {
                            let (first, last) = window.get();
                            rows.with(|r| {
                                r[first..last]
                                    .iter()
                                    .enumerate()
                                    .map(|(i, e)| (first + i, e.clone()))
                                    .collect::<Vec<_>>()
                            })
                        }
                        key=|(i, e)| (*i, e.seq)
                        let:item
                    >
                        <EntryRow
                            entry=item.1
                            index=item.0
                            selected=selected
                            open_id=open_id
                            tz=tz
                            hydrated=hydrated
                            fresh=fresh
                        />
                    </For>
                    <tr class="spacer" aria-hidden="true">
                        <td colspan="7" style:height=move || {
                            let (_, last) = window.get();
                            format!("{}px", rows.with(Vec::len).saturating_sub(last) * ROW_PX)
                        }></td>
                    </tr>
                    <tr class="table-status">
                        <td colspan="7">
                            {move || {
                                if let Some(m) = load_error.get() {
                                    EitherOf3::A(view! {
                                        <span class="field-error" role="alert">"More entries could not be loaded: " {m}</span>
                                        " "
                                        <button type="button" class="secondary" on:click=move |_| {
                                            load_error.set(None);
                                        }>"Retry"</button>
                                    })
                                } else if loading.get() || next.with(Option::is_some) {
                                    EitherOf3::B(view! { <span class="loading-row" data-testid="loading-more">"Loading more entries…"</span> })
                                } else {
                                    let n = rows.with(Vec::len);
                                    EitherOf3::C(view! { <span class="muted">{format!("End of results · {} loaded", thousands(n as i64))}</span> })
                                }
                            }}
                        </td>
                    </tr>
                </tbody>
            </table>
        </div>
        </div>
    }
}

#[component]
fn EntryRow(
    entry: AuditEntry,
    index: usize,
    selected: RwSignal<Option<i64>>,
    open_id: Memo<Option<uuid::Uuid>>,
    tz: Memo<Option<String>>,
    hydrated: RwSignal<bool>,
    /// Entries that just arrived live (briefly highlighted).
    fresh: RwSignal<Vec<i64>>,
) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let failed = entry.status == Status::Failure;
    let seq = entry.seq;
    let id = entry.id;
    let actor_label = entry
        .actor
        .name
        .clone()
        .unwrap_or_else(|| entry.actor.id.clone());
    let actor_title = entry
        .actor
        .email
        .clone()
        .unwrap_or_else(|| entry.actor.id.clone());
    let is_key = entry.actor.kind == ActorType::ApiKey;
    let category_class = format!("action-badge cat-{}", entry.category());
    let resource_title = entry
        .resource
        .as_ref()
        .map(|r| format!("{}:{}", r.kind, r.id))
        .unwrap_or_default();
    let resource = entry.resource.as_ref().map(|r| {
        view! { <span class="resource-type">{r.kind.clone()}</span> " " <span class="mono">{r.id.clone()}</span> }
    });
    let summary = entry.details_summary();
    let summary_title = summary.clone();
    let at = entry.occurred_at;
    // The server renders UTC; the browser switches to the URL's zone once interactive. The
    // header names the zone, so the cells do not repeat it.
    let timestamp = move || {
        let zone = if hydrated.get() { tz.get() } else { None };
        format_wall(&at, zone.as_deref())
    };
    view! {
        <tr
            class:failure=failed
            class:fresh=move || fresh.with(|f| f.contains(&seq))
            class:selected=move || selected.get() == Some(seq)
            class:open=move || open_id.get() == Some(id)
            aria-rowindex=index + 2
            data-seq=seq.to_string()
            on:click=move |_| {
                selected.set(Some(seq));
                nav.open_entry(id);
            }
        >
            <td class="ts"><time datetime=at.to_rfc3339()>{timestamp}</time></td>
            <td title=format!("{actor_label} · {actor_title}")>
                <span class="clip">
                    {is_key.then(|| view! { <span class="key-marker">"API key"</span> " " })}
                    {actor_label.clone()}
                </span>
            </td>
            <td title=entry.action.clone()><span class="clip"><code class=category_class>{entry.action.clone()}</code></span></td>
            <td class="opt" title=resource_title><span class="clip">{resource}</span></td>
            <td class="mono opt">{entry.ip.clone().unwrap_or_default()}</td>
            <td class="status-cell"><StatusLabel failed/></td>
            <td class="details opt" title=summary_title><span class="clip">{summary}</span></td>
        </tr>
    }
}

/// "✓ Success" / "✕ Failed": an icon and a word, never colour alone.
#[component]
pub fn StatusLabel(failed: bool) -> impl IntoView {
    let (class, icon, word) = if failed {
        ("status status-failure", "✕ ", "Failed")
    } else {
        ("status status-success", "✓ ", "Success")
    };
    view! { <span class=class><span aria-hidden="true">{icon}</span>{word}</span> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_viewport_plus_margins() {
        assert_eq!(rows_in_view(0.0, 720.0, 0), (0, 0));
        assert_eq!(rows_in_view(0.0, 720.0, 5), (0, 5));
        assert_eq!(rows_in_view(0.0, 720.0, 100_000), (0, 40));
        // Deep in 100,000 rows: still about 60 rows.
        let (first, last) = rows_in_view(36.0 * 50_000.0, 720.0, 100_000);
        assert_eq!((first, last), (49_980, 50_040));
        assert_eq!(
            rows_in_view(36.0 * 99_999.0, 720.0, 100_000),
            (99_979, 100_000)
        );
    }
}
