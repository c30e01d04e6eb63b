//! The user filter: search-as-you-type over the actors in the log, several may be chosen.
//! One row per actor as `user=` tells them apart (by email, else id); its search has focus
//! as soon as the picker opens.

use std::time::Duration;

use leptos::either::EitherOf4;
use leptos::prelude::*;

use crate::api::user_facets;
use crate::chunks::Chunk;
use crate::components::{panel_once_opened, track_open, Debounce, PickerSummary};
use crate::console_state::ConsoleNav;
use crate::format::thousands;
use crate::model::ActorFacet;

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
    // Asked only in the browser (effects do not run on the server), while the picker is open;
    // an answer to an older search is dropped.
    let found = RwSignal::new(None::<Result<Vec<ActorFacet>, String>>);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (open, q) = (open.get(), search.get());
        if !open {
            return;
        }
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        leptos::task::spawn_local(async move {
            let answer = user_facets(q).await.map_err(|e| e.to_string());
            if asked.get_value() == mine {
                found.set(Some(answer));
            }
        });
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
        <ul class="picker-options" aria-label="Users">
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
                {move || match found.get() {
                    None => EitherOf4::A(view! { <li class="muted">"Searching…"</li> }),
                    Some(r) => match r {
                    Err(m) => EitherOf4::B(view! { <li class="field-error">{m}</li> }),
                    Ok(list) if list.is_empty() && open.get() => EitherOf4::C(view! {
                        <li class="muted">"No users match."</li>
                    }),
                    Ok(list) => EitherOf4::D(list.into_iter()
                        .filter(|a| !chosen().contains(&a.filter_value()))
                        .map(|a| {
                            let value = a.filter_value();
                            let main = a.name.clone().unwrap_or_else(|| a.id.clone());
                            // Who exactly: the email, else the id (names may be shared).
                            let who = a.email.clone().unwrap_or_else(|| a.id.clone());
                            let sub = if a.actor_type == "api_key" { format!("API key · {who}") } else { who };
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
                        })
                        .collect_view()),
                }}}
        </ul>
    }
}
