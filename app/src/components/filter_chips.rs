//! The active filters as removable chips, plus "Clear all". Each × removes its own filter from
//! the filter as it is when clicked (see `chips`), whatever order filters were added in.

use leptos::prelude::*;

use crate::api::chip_words;
use crate::chips::{chips, Chip, ChipKey, Words};
use crate::console_state::ConsoleNav;
use crate::hydration::Hydrated;
use crate::model::{ChipVocabulary, Source};

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
            let mut users = f.users.clone();
            users.extend(f.exclude.users.iter().cloned());
            let keys: Vec<uuid::Uuid> = f
                .source
                .iter()
                .chain(&f.exclude.sources)
                .filter_map(|s| match s {
                    Source::Key(id) => Some(*id),
                    Source::Trailkeep => None,
                })
                .collect();
            (users, f.actions.len() > 1, keys)
        });
        let latest = StoredValue::new(0u64);
        // Effects run in the browser only; an answer to an older question is dropped.
        Effect::new(move |_| {
            let (users, categories, keys) = asked.get();
            latest.update_value(|n| *n += 1);
            let mine = latest.get_value();
            if users.is_empty() && !categories && keys.is_empty() {
                words.set(ChipVocabulary::default());
                return;
            }
            leptos::task::spawn_local(async move {
                let answer = chip_words(users, categories, keys)
                    .await
                    .unwrap_or_default();
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
                keys: &words.keys,
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
                            let excluded = matches!(key, ChipKey::Excluded(_));
                            // Offered where the filter can be turned around as it is now.
                            let invert_key = key.clone();
                            let can_invert = move || nav.filter().inverted(&invert_key).is_some();
                            let invert_key = key.clone();
                            let invert = move |_| {
                                nav.update_filter(|f| {
                                    if let Some(g) = f.inverted(&invert_key) {
                                        *f = g;
                                    }
                                })
                            };
                            let invert_label = if excluded {
                                format!("Show only instead: {}", chip.label)
                            } else {
                                format!("Leave out instead: {}", chip.label)
                            };
                            view! {
                                <li class="chip" class:excluded=excluded>
                                    <span>{chip.label.clone()}</span>
                                    <Show when=can_invert.clone()>
                                        <button
                                            type="button"
                                            class="chip-invert"
                                            title=if excluded { "Show only these instead" } else { "Leave these out instead" }
                                            aria-label=invert_label.clone()
                                            on:click=invert.clone()
                                        >
                                            "≠"
                                        </button>
                                    </Show>
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
