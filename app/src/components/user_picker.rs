//! The user filter: search-as-you-type over the actors in the log, several may be chosen.
//! One row per actor as `user=` tells them apart (by email, else id); its search has focus
//! as soon as the picker opens. Every actor is reachable: pages of 20 ("Showing 20 of 31 —
//! type to search", "Show 20 more"), grouped as people, API keys, the system and sign-in names
//! that match no account; counts are under the other filters on screen.

use std::time::Duration;

use leptos::either::EitherOf4;
use leptos::prelude::*;

use crate::api::{user_facets, USER_PAGE};
use crate::chunks::Chunk;
use crate::components::{panel_once_opened, track_open, Debounce, PickerSummary};
use crate::console_state::ConsoleNav;
use crate::filter::{CanonicalFilter, Filter};
use crate::format::thousands;
use crate::model::{ActorFacet, ActorFacetPage, ActorGroup};

#[component]
pub fn UserPicker() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let open = RwSignal::new(false);
    view! {
        <details class="picker" on:toggle=track_open(open)>
            <PickerSummary label="User" testid="user-picker"
                chosen=Signal::derive(move || nav.filter().users.len())/>
            {panel_once_opened(open, "picker-panel", |open| Box::pin(user_panel(open)))}
        </details>
    }
}

#[wasm_split_helpers::wasm_split(user_panel, fallible)]
fn user_panel(open: RwSignal<bool>) -> Chunk {
    Ok(view! { <UserPanel open/> }.into_any())
}

#[component]
fn UserPanel(open: RwSignal<bool>) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let input = NodeRef::<leptos::html::Input>::new();
    // Focus the search whenever the picker opens (and when the panel first appears, open).
    Effect::new(move |_| {
        if let (true, Some(el)) = (open.get(), input.get()) {
            let _ = el.focus();
        }
    });
    let typed = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let typing = Debounce::new(Duration::from_millis(200));
    // Counted under the other filters on screen: the filter without its users.
    let others = Memo::new(move |_| {
        let mut f = nav.filter();
        f.users.clear();
        f
    });
    // Asked only in the browser (effects do not run on the server), while the picker is open;
    // an answer to an older question is dropped. "Show more" appends the next page.
    let found = RwSignal::new(None::<Result<ActorFacetPage, String>>);
    let more = RwSignal::new(0u32);
    // A next page on its way: "Show more" waits for it (clicked twice, it asked the same page
    // twice and listed its users twice).
    let fetching = RwSignal::new(false);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (open, q, others) = (open.get(), search.get(), others.get());
        if !open {
            return;
        }
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        found.set(None);
        leptos::task::spawn_local(async move {
            let answer = user_facets(q, CanonicalFilter::from(&others), 0)
                .await
                .map_err(|e| e.to_string());
            // Dropped when a later question was asked, or the picker is gone (a closed form).
            if asked.try_get_value() == Some(mine) {
                found.set(Some(answer));
            }
        });
    });
    Effect::new(move |before: Option<u32>| {
        let n = more.get();
        if before.is_some_and(|b| b != n) {
            let offset = found.with_untracked(|f| match f {
                Some(Ok(page)) => page.actors.len() as i64,
                _ => 0,
            });
            let mine = asked.get_value();
            let (q, others) = (search.get_untracked(), others.get_untracked());
            fetching.set(true);
            leptos::task::spawn_local(async move {
                let answer = user_facets(q, CanonicalFilter::from(&others), offset).await;
                if asked.try_get_value() == Some(mine) {
                    if let Ok(next) = answer {
                        found.update(|f| {
                            // Appended only where it was asked from.
                            if let Some(Ok(page)) = f {
                                if page.actors.len() as i64 == offset {
                                    page.actors.extend(next.actors);
                                    page.total = next.total;
                                }
                            }
                        });
                    }
                }
                let _ = fetching.try_set(false);
            });
        }
        n
    });
    let chosen = move || nav.filter().users;
    let toggle = move |value: String| {
        nav.update_filter(|f| {
            if f.users.contains(&value) {
                f.users.retain(|u| *u != value);
            } else {
                f.users.push(value);
                f.users.sort();
            }
        })
    };
    let option = move |a: ActorFacet| {
        let value = a.filter_value();
        let main = a.name.clone().unwrap_or_else(|| a.id.clone());
        // Who exactly: the email, else the id (names may be shared).
        let who = a.email.clone().unwrap_or_else(|| a.id.clone());
        let sub = if a.actor_type == "api_key" {
            format!("API key · {who}")
        } else {
            who
        };
        view! {
            <li>
                <label>
                    <input type="checkbox" checked=false on:change=move |_| toggle(value.clone())/>
                    <span class="option-main">{main}</span>
                    <span class="option-sub">{sub}</span>
                    <span class="option-count">{thousands(a.count)}</span>
                </label>
            </li>
        }
    };
    let filtered = move || !others.with(Filter::is_everything);
    view! {
        <input
            type="search"
            node_ref=input
            aria-label="Search users by name, email or id"
            placeholder="Name, email or id…"
            prop:value=move || typed.get()
            on:input=move |ev| {
                typed.set(event_target_value(&ev));
                typing.call(move || search.set(typed.get_untracked().trim().to_string()));
            }
        />
        <Show when=filtered>
            <p class="picker-note muted" data-testid="user-counts-note">"Counts under the other filters on screen."</p>
        </Show>
        <ul class="picker-options" aria-label="Chosen users">
            {move || chosen().into_iter().map(|u| {
                let value = u.clone();
                view! {
                    <li>
                        <label>
                            <input type="checkbox" checked=true on:change=move |_| toggle(value.clone())/>
                            <span class="option-main">{u}</span>
                        </label>
                    </li>
                }
            }).collect_view()}
        </ul>
        <div class="picker-groups">
            {move || match found.get() {
                None => EitherOf4::A(view! { <p class="muted">"Searching…"</p> }),
                Some(Err(m)) => EitherOf4::B(view! { <p class="field-error">{m}</p> }),
                Some(Ok(page)) if page.actors.is_empty() => EitherOf4::C(view! {
                    <p class="muted">{if filtered() { "No users match under these filters." } else { "No users match." }}</p>
                }),
                Some(Ok(page)) => {
                    let taken = chosen();
                    let groups = ActorGroup::ALL.map(|group| {
                        let members: Vec<ActorFacet> = page
                            .actors
                            .iter()
                            .filter(|a| a.group() == group && !taken.contains(&a.filter_value()))
                            .cloned()
                            .collect();
                        (!members.is_empty()).then(|| view! {
                            <p class="picker-group-name" id=format!("user-group-{group:?}")>{group.label()}</p>
                            <ul class="picker-options" aria-labelledby=format!("user-group-{group:?}")>
                                {members.into_iter().map(option).collect_view()}
                            </ul>
                        })
                    });
                    EitherOf4::D(groups.into_iter().flatten().collect_view())
                }
            }}
        </div>
        {move || match found.get() {
            Some(Ok(page)) if (page.actors.len() as i64) < page.total => Some(view! {
                <p class="picker-more" data-testid="user-picker-more">
                    <span>{format!(
                        "Showing {} of {} — type to search",
                        thousands(page.actors.len() as i64),
                        thousands(page.total)
                    )}</span>
                    <button type="button" class="link-button" disabled=move || fetching.get()
                        on:click=move |_| {
                            if !fetching.get_untracked() {
                                more.update(|n| *n += 1);
                            }
                        }>
                        {format!("Show {} more", (page.total - page.actors.len() as i64).min(USER_PAGE))}
                    </button>
                </p>
            }),
            _ => None,
        }}
    }
}
