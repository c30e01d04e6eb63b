//! "New entries since this list — Show them": while Live is off, the log asks every
//! [`EVERY`] whether entries matching the filter arrived after the listing's snapshot, and says
//! so once they have. Show them reloads the listing. A changed filter, a reload or Live on
//! starts over (an answer about an earlier listing is dropped).

use std::time::Duration;

use leptos::prelude::*;

use crate::api::newer_entries;
use crate::components::result_count::Counted;
use crate::console_state::ConsoleNav;
use crate::filter::CanonicalFilter;

/// How often the log asks.
const EVERY: Duration = Duration::from_secs(10);

#[component]
pub fn NewEntriesCue(#[prop(into)] of: Signal<Counted>, refresh: RwSignal<u32>) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let newer = RwSignal::new(false);
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let counted = of.get();
        let live = nav.query.with(|q| q.live);
        generation.update_value(|g| *g += 1);
        newer.set(false);
        if let (Some((filter, seq)), false) = (counted, live) {
            ask_later(generation, generation.get_value(), newer, filter, seq);
        }
    });
    view! {
        <Show when=move || newer.get()>
            <button type="button" class="new-entries-cue" data-testid="new-entries-cue"
                on:click=move |_| refresh.update(|n| *n += 1)>
                "New entries since this list — show them"
            </button>
        </Show>
    }
}

/// Asks after [`EVERY`], again until the answer is yes, while `mine` is the current listing.
fn ask_later(
    generation: StoredValue<u64>,
    mine: u64,
    newer: RwSignal<bool>,
    filter: CanonicalFilter,
    seq: i64,
) {
    set_timeout(
        move || {
            if generation.try_get_value() != Some(mine) {
                return;
            }
            leptos::task::spawn_local(async move {
                let answer = newer_entries(filter.clone(), seq).await;
                if generation.try_get_value() != Some(mine) {
                    return;
                }
                match answer {
                    Ok(true) => newer.set(true),
                    // No, or not now (a blip): ask again later. A signed-out session is said by
                    // the session notice.
                    _ => ask_later(generation, mine, newer, filter, seq),
                }
            });
        },
        EVERY,
    );
}
