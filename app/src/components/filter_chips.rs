//! The active filters as removable chips, plus "Clear all". Each × removes its own filter from
//! the filter as it is when clicked (see `chips`), whatever order filters were added in.

use leptos::prelude::*;

use crate::api::chip_words;
use crate::chips::{chips, Chip, ChipKey, Words};
use crate::console_state::ConsoleNav;
use crate::hydration::Hydrated;
use crate::model::ChipVocabulary;

/// What makes chips readable (category names, "Name <email>"), asked by the browser once the
/// page is interactive and only when the filter has users or several actions; until then a
/// chip says exactly the filter's value.
#[derive(Clone, Copy)]
pub struct ChipWords(RwSignal<ChipVocabulary>);

impl ChipWords {
    pub fn new(nav: ConsoleNav) -> Self {
        let words = RwSignal::new(ChipVocabulary::default());
        // Only a filter with several actions can hold a whole category.
        let asked = Memo::new(move |_| {
            let f = nav.filter();
            (f.users, f.actions.len() > 1)
        });
        let latest = StoredValue::new(0u64);
        // Effects run in the browser only; an answer to an older question is dropped.
        Effect::new(move |_| {
            let (users, categories) = asked.get();
            latest.update_value(|n| *n += 1);
            let mine = latest.get_value();
            if users.is_empty() && !categories {
                words.set(ChipVocabulary::default());
                return;
            }
            leptos::task::spawn_local(async move {
                let answer = chip_words(users, categories).await.unwrap_or_default();
                if latest.try_get_value() == Some(mine) {
                    words.set(answer);
                }
            });
        });
        ChipWords(words)
    }

    /// The chips of the filter on screen.
    pub fn chips(&self, nav: ConsoleNav, hydrated: RwSignal<bool>) -> Vec<Chip> {
        let f = nav.filter();
        // The zone's offsets only the browser knows.
        let browser = hydrated.get();
        let words = self.0.get();
        let zone = if browser { f.tz.clone() } else { None };
        chips(
            &f,
            Words {
                categories: &words.categories,
                actors: &words.actors,
                zone: zone.as_deref(),
            },
        )
    }
}

#[component]
pub fn FilterChips() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let words = expect_context::<ChipWords>();
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    // The order is the sort toggle's, not a filter: no chip, and Clear all keeps it.
    let list = Memo::new(move |_| {
        let mut list = words.chips(nav, hydrated);
        list.retain(|c| c.key != ChipKey::Order);
        list
    });
    view! {
        <Show when=move || list.with(|l| !l.is_empty())>
            <div class="filter-chips" aria-label="Active filters" role="group">
                <ul>
                    <For
                        each=move || list.get()
                        key=|c| (c.key.clone(), c.label.clone())
                        children=move |chip: Chip| {
                            let key = chip.key;
                            view! {
                                <li class="chip">
                                    <span>{chip.label.clone()}</span>
                                    <button
                                        type="button"
                                        class="chip-remove"
                                        aria-label=format!("Remove filter {}", chip.label)
                                        on:click=move |_| nav.update_filter(|f| *f = f.without(&key))
                                    >
                                        "×"
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
                <button
                    type="button"
                    class="link-button"
                    data-testid="clear-all"
                    on:click=move |_| nav.update_filter(|f| *f = f.cleared())
                >
                    "Clear all"
                </button>
            </div>
        </Show>
    }
}
