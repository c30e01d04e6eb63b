//! "1,204 entries" above the table: exact, counted at the listing's snapshot and grown by the
//! live entries that arrived since. A quick count stops at [`COUNT_CAP`]; past it the exact
//! count follows, and "10,000+" shows only while it is being counted (or if counting failed).
//! Asked by the browser after the first page, never holding the page back; an answer about an
//! earlier filter is dropped.

use leptos::prelude::*;

use crate::api::{count_entries, exact_count, COUNT_CAP};
use crate::filter::CanonicalFilter;
use crate::format::thousands;
use crate::live_feed::LiveFeed;
use crate::model::MatchCount;

/// What the count is of: the canonical filter and the listing's snapshot.
pub type Counted = Option<(CanonicalFilter, i64)>;

/// What the line says.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Known {
    Counting,
    /// The quick count stopped at the cap; the exact count is on its way (or failed).
    AtLeast(i64),
    Exactly(i64),
    Failed,
}

/// `idle`: nothing is being counted (the filter was refused, or the entries could not be
/// read): the line stays empty rather than "Counting…" for ever.
#[component]
pub fn ResultCount(
    #[prop(into)] of: Signal<Counted>,
    #[prop(into)] idle: Signal<bool>,
) -> impl IntoView {
    let feed = expect_context::<LiveFeed>();
    let known = RwSignal::new(Known::Counting);
    let asked = StoredValue::new(0u64);
    // Effects run in the browser only.
    Effect::new(move |_| {
        let Some((filter, seq)) = of.get() else {
            known.set(Known::Counting);
            return;
        };
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        let current = move || asked.try_get_value() == Some(mine);
        known.set(Known::Counting);
        leptos::task::spawn_local(async move {
            let quick = count_entries(filter.clone(), Some(seq)).await;
            if !current() {
                return;
            }
            match quick {
                Ok(MatchCount {
                    count,
                    at_least: false,
                }) => known.set(Known::Exactly(count)),
                Ok(MatchCount { count, .. }) => {
                    known.set(Known::AtLeast(count.max(COUNT_CAP)));
                    if let (Ok(c), true) = (exact_count(filter, Some(seq)).await, current()) {
                        known.set(Known::Exactly(c.count));
                    }
                }
                Err(_) => known.set(Known::Failed),
            }
        });
    });
    let text = move || {
        let live = feed.received.get();
        if idle.get() {
            return String::new();
        }
        match known.get() {
            Known::Counting => "Counting…".to_string(),
            Known::Failed => String::new(),
            Known::AtLeast(n) => format!("{}+ entries · counting…", thousands(n + live)),
            Known::Exactly(n) => MatchCount {
                count: n + live,
                at_least: false,
            }
            .label(),
        }
    };
    view! {
        <p class="result-count" aria-live="polite" data-testid="result-count">{text}</p>
    }
}
