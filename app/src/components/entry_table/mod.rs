//! The table of entries, virtualized: only the rows in view (plus a margin) are in the DOM,
//! however many are loaded (`window`); scrolling near the end loads the next page by cursor
//! (`pages`); live arrivals join on top without moving what is being read (`live_merge`); the
//! arrows and Enter move through the rows (`keys`), each drawn by `row`.

mod keys;
mod live_merge;
mod pages;
mod row;
mod window;

use leptos::either::EitherOf3;
use leptos::{html, prelude::*};

use crate::console_state::ConsoleNav;
use crate::filter::CanonicalFilter;
use crate::format::thousands;
use crate::hydration::Hydrated;
use crate::model::EntryPage;
use keys::TableKeys;
use live_merge::LiveMerge;
use pages::Pages;
pub use row::StatusLabel;
use row::{row_key, EntryRow};
use window::VirtualWindow;

#[component]
pub fn EntryTable(first_page: EntryPage, filter: CanonicalFilter) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    let filter = StoredValue::new(filter);
    let newest = first_page.snapshot_seq;
    let archived = first_page.archived.clone();
    let pages = Pages::new(first_page);
    let Pages {
        rows,
        next,
        loading,
        load_error,
    } = pages;
    let selected = RwSignal::new(None::<i64>);
    let scroller = NodeRef::<html::Div>::new();
    let tz = Memo::new(move |_| nav.filter().tz);
    let open_id = Memo::new(move |_| nav.query.with(|q| q.entry));

    let window = VirtualWindow::new(rows);
    pages.fetch_near_end(window.range, filter);
    window.follow_viewport(scroller);
    let live = LiveMerge::new(rows, newest, window.scroll_top);
    let keys = TableKeys {
        nav,
        rows,
        selected,
        open_id,
        scroller,
    };
    keys.listen_on_page();

    let zone_heading = move || match tz.get() {
        Some(z) => format!("Timestamp ({z})"),
        None => "Timestamp (UTC)".to_string(),
    };
    view! {
        <div class="table-area">
        <crate::components::ArchivedNotice parts=archived/>
        // Above the table, never over a row.
        <Show when=move || { !live.at_top.get() && live.waiting() > 0 }>
                <button type="button" class="new-entries-pill" data-testid="new-entries"
                    on:click=move |_| {
                        if let Some(el) = scroller.get_untracked() {
                            el.set_scroll_top(0);
                        }
                    }>
                    {move || match live.waiting() {
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
                window.scroll_top.set(el.scroll_top() as f64);
            }
            on:keydown=move |ev| keys.press(ev)
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
                        <td colspan="7" style:height=move || window.space_above()></td>
                    </tr>
                    <For
                        each=move || window.rows(rows)
                        key=row_key
                        let:item
                    >
                        <EntryRow
                            entry=item.1
                            index=item.0
                            selected=selected
                            open_id=open_id
                            tz=tz
                            hydrated=hydrated
                            fresh=live.fresh
                        />
                    </For>
                    <tr class="spacer" aria-hidden="true">
                        <td colspan="7" style:height=move || window.space_below(rows)></td>
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
