//! "1,204 entries" above the table: exact, counted at the listing's snapshot and grown by the
//! live entries that arrived since. A quick count stops at [`COUNT_CAP`]; past it the exact
//! count follows, and "10,000+" shows only while it is being counted (or if counting failed).
//! Each answer is tagged with what it counts, so an answer about an earlier filter is never
//! shown for the current one.

use leptos::prelude::*;

use crate::api::{count_entries, exact_count, COUNT_CAP};
use crate::error::ConsoleError;
use crate::filter::CanonicalFilter;
use crate::live_feed::LiveFeed;
use crate::model::{thousands, MatchCount};
use crate::Hydrated;

/// What the count is of: the canonical filter and the listing's snapshot.
pub type Counted = Option<(CanonicalFilter, i64)>;

/// An answer and what it was asked about.
type Tagged = (Counted, Result<MatchCount, ConsoleError>);

#[component]
pub fn ResultCount(#[prop(into)] of: Signal<Counted>) -> impl IntoView {
    let feed = expect_context::<LiveFeed>();
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    // Asked by the browser only: the page is never held back for a count.
    let quick = LocalResource::new(move || {
        let of = of.get();
        async move {
            let (filter, seq) = of.clone()?;
            Some((of, count_entries(filter, Some(seq)).await))
        }
    });
    // The current answer of a tagged resource, or none while it is about something else.
    let current = move |r: Option<Option<Tagged>>| {
        r.flatten()
            .filter(|(tag, _)| *tag == of.get())
            .map(|(_, answer)| answer)
    };
    let capped = Memo::new(move |_| {
        hydrated.get()
            && current(quick.get())
                .and_then(Result::ok)
                .is_some_and(|c| c.at_least)
    });
    let exact = LocalResource::new(move || {
        let of = of.get();
        let capped = capped.get();
        async move {
            let (filter, seq) = of.clone().filter(|_| capped)?;
            Some((of, exact_count(filter, Some(seq)).await))
        }
    });
    let text = move || {
        // The server renders "Counting…": a local resource read there would hold the page's
        // suspense on its fallback.
        if !hydrated.get() {
            return "Counting…".to_string();
        }
        let Some(answer) = current(quick.get()) else {
            return "Counting…".to_string();
        };
        let Ok(first) = answer else {
            return String::new();
        };
        let live = feed.received.get();
        match current(exact.get()) {
            Some(Ok(c)) => label(c, live),
            Some(Err(_)) => label(first, live),
            None if first.at_least => format!(
                "{}+ entries · counting…",
                thousands(COUNT_CAP.max(first.count) + live)
            ),
            None => label(first, live),
        }
    };
    view! {
        <p class="result-count" aria-live="polite" data-testid="result-count">{text}</p>
    }
}

fn label(c: MatchCount, live: i64) -> String {
    MatchCount {
        count: c.count + live,
        at_least: c.at_least,
    }
    .label()
}
