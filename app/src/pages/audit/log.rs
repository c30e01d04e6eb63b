//! The audit log for a reader allowed to see it. Everything on it follows the URL (see
//! `console_state`): the entries, their count, the chips, the live feed and the open entry.

use leptos::either::EitherOf5;
use leptos::reactive::computed::suspense::SuspenseContext;
use leptos::{ev, prelude::*};

use super::states::{EmptyState, NoAccess, RefusedFilter};
use crate::{
    api::search_entries,
    components::{
        ChipWords, CopyButton, EntryDetail, EntryTable, ExportButton, FilterBar, FilterChips,
        IntegrityBadge, LiveIndicator, LiveToggle, NewEntriesCue, OrderToggle, ResultCount,
        SavedSearches, SearchBar, ShortcutsHelp, TimeZoneToggle, TopValuesPanel, TopValuesToggle,
        VolumeChart, SEARCH_INPUT_ID,
    },
    console_state::ConsoleNav,
    error::ConsoleError,
    filter::CanonicalFilter,
    hydration::Hydrated,
    live_feed::LiveFeed,
};

/// The log of a reader allowed to see it: header, search, filters, chips, results.
#[component]
pub fn AuditLog() -> impl IntoView {
    // What the log reads outside the table's own transition (counts, chip words, the live
    // feed's page) registers with a suspense context of its own that no boundary shows a
    // fallback for: under the page's suspense above, each reload would take the whole page
    // away (and with it the focus and the text being typed), and even under a transition it
    // would move the page's nodes, which blurs the search box.
    provide_context(SuspenseContext {
        tasks: ArcRwSignal::new(slotmap::SlotMap::new()),
    });
    let nav = ConsoleNav::new();
    provide_context(nav);
    provide_context(ChipWords::new(nav));
    let refresh = RwSignal::new(0u32);
    // Bumped by the Refresh button only: the chart and Top values are asked again then, never
    // by the calm retries below (reads of up to the statement timeout must not pile up on a
    // read pool that is already full).
    let asked_again = RwSignal::new(0u32);
    // What Refresh and Retry do: everything on the page is asked again.
    let ask_again = move || {
        refresh.update(|n| *n += 1);
        asked_again.update(|n| *n += 1);
    };
    let top_open = RwSignal::new(false);
    let updating = RwSignal::new(false);
    // The canonical filter, or `None` when the URL's filter is refused.
    let canonical = Memo::new(move |_| {
        nav.query
            .with(|q| q.filter.as_ref().ok().map(CanonicalFilter::from))
    });
    let first_page = Resource::new(
        move || (canonical.get(), refresh.get()),
        |(filter, _)| async move {
            match filter {
                Some(f) => search_entries(f.clone(), None).await.map(|p| Some((f, p))),
                None => Ok(None),
            }
        },
    );
    // The server could not be reached: ask again, calmly, until it answers.
    Effect::new(move |_| {
        if let Some(Err(e)) = first_page.get() {
            if e.is_transient() {
                set_timeout(
                    move || refresh.update(|n| *n += 1),
                    std::time::Duration::from_secs(3),
                );
            }
        }
    });
    // The count is of the listing's snapshot, so live arrivals can be added to it.
    let counted = Memo::new(move |_| match first_page.get() {
        Some(Ok(Some((filter, page)))) => Some((filter, page.snapshot_seq)),
        _ => None,
    });
    // Live mode streams what matches the filter on screen, from the newest entry loaded.
    let feed = LiveFeed::new(refresh);
    provide_context(feed);
    let live = Memo::new(move |_| nav.query.with(|q| q.live));
    // The detail panel is drawn by the browser, once interactive: its code is a chunk loaded on
    // demand, which the server's HTML could not be hydrated against before it arrives.
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    let detail_open = Memo::new(move |_| hydrated.get() && nav.query.with(|q| q.entry.is_some()));
    Effect::new(move |_| match (live.get(), first_page.get()) {
        (true, Some(Ok(Some((filter, page))))) => feed.start(filter, Some(page.snapshot_seq)),
        _ => feed.stop(),
    });
    on_cleanup(move || feed.stop());
    // `/` focuses the search, `?` lists the shortcuts, Escape closes the detail panel.
    let help = RwSignal::new(false);
    let keys = window_event_listener(ev::keydown, move |ev| match ev.key().as_str() {
        "?" if !crate::components::typing(&ev) => {
            ev.prevent_default();
            help.set(true);
        }
        "/" if !crate::components::typing(&ev) => {
            ev.prevent_default();
            if let Some(input) = document().get_element_by_id(SEARCH_INPUT_ID) {
                use wasm_bindgen::JsCast;
                if let Ok(input) = input.dyn_into::<web_sys::HtmlElement>() {
                    let _ = input.focus();
                }
            }
        }
        "Escape" if nav.query.with_untracked(|q| q.entry.is_some()) => nav.close_entry(),
        _ => {}
    });
    on_cleanup(move || keys.remove());
    // The entries in view, for the integrity badge to prove in the browser.
    let in_view = Signal::derive(move || match first_page.get() {
        Some(Ok(Some((_, page)))) => page
            .entries
            .iter()
            .take(crate::api::MAX_PROVEN)
            .map(|e| (e.seq, e.leaf_hash.clone()))
            .collect(),
        _ => Vec::new(),
    });

    view! {
        <div class="page-header">
            <h1>"Audit Log"</h1>
            <IntegrityBadge entries=in_view/>
            <div class="header-actions">
                <CopyButton
                    text=|| window().location().href().unwrap_or_default()
                    label="Copy link"
                    testid="copy-link"
                />
                // A relative range means another window tomorrow: this link keeps today's.
                <Show when=move || nav.filter().time.is_relative()>
                    <CopyButton
                        text=move || {
                            let now = chrono::DateTime::from_timestamp_millis(js_sys::Date::now() as i64)
                                .unwrap_or_default();
                            let q = nav.query.get_untracked();
                            let exact = q.filter_or_default().with_exact_times(now);
                            let origin = window().location().origin().unwrap_or_default();
                            format!("{origin}{}", crate::console_state::console_url(&exact, q.entry, false))
                        }
                        label="Copy link (exact times)"
                        testid="copy-exact-link"
                    />
                </Show>
                <SavedSearches/>
                <a class="button secondary" data-testid="new-alert-rule"
                    href=move || {
                        // A rule watches what is recorded from now on: no time range.
                        let mut f = nav.filter();
                        f.time = crate::filter::TimeWindow::All;
                        format!(
                            "/alerts?new=1&filter={}",
                            crate::filter::percent_encode(&f.to_query_string())
                        )
                    }>"New alert rule"</a>
                <button type="button" class="secondary" data-testid="refresh"
                    on:click=move |_| ask_again()>"Refresh"</button>
                <ExportButton/>
            </div>
        </div>
        <ShortcutsHelp open=help/>
        <SearchBar/>
        <FilterBar/>
        <FilterChips/>
        <VolumeChart refresh=asked_again/>
        <div class="results-bar">
            <ResultCount of=counted idle=Signal::derive(move || matches!(first_page.get(), Some(Err(_)) | Some(Ok(None))))/>
            <span class="updating-note" data-testid="updating" role="status"
                class:active=move || updating.get()>
                {move || if updating.get() { "Updating…" } else { "" }}
            </span>
            <LiveIndicator/>
            <NewEntriesCue of=counted refresh=refresh/>
            <span class="filter-bar-gap"></span>
            <TopValuesToggle open=top_open/>
            <LiveToggle/>
            <OrderToggle/>
            <TimeZoneToggle/>
        </div>
        <TopValuesPanel open=top_open refresh=asked_again/>
        <div class="results" class:updating=move || updating.get() class:with-detail=move || detail_open.get()>
            <Transition
                fallback=|| view! { <p class="state-message" data-testid="loading">"Loading entries…"</p> }
                set_pending=updating.write_only()
            >
                {move || first_page.get().map(|r| match r {
                    // Live, an empty result still shows the table that entries will stream into.
                    Ok(Some((filter, page))) if page.entries.is_empty() && !live.get() => EitherOf5::A(view! { <EmptyState filter/> }),
                    Ok(Some((filter, page))) => EitherOf5::B(view! { <EntryTable first_page=page filter/> }),
                    Ok(None) => EitherOf5::C(view! { <RefusedFilter/> }),
                    Err(ConsoleError::NoAccess) => EitherOf5::D(view! { <NoAccess/> }),
                    Err(e) => EitherOf5::E(view! {
                        <div class="state-message error" role="alert">
                            <h2>"The entries could not be loaded"</h2>
                            <p>{e.to_string()}</p>
                            <button type="button" class="secondary"
                                on:click=move |_| ask_again()>"Retry"</button>
                        </div>
                    }),
                })}
            </Transition>
            {move || detail_open.get().then(|| view! { <EntryDetail/> })}
        </div>
    }
}
