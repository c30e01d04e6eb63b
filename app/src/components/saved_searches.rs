//! "Saved searches": the reader's own named filters and those others shared with every reader,
//! each a link (`/audit?<filter>&view=<id>`), and a form to save the filter on screen, privately
//! or shared. A URL naming a saved search alone (`/audit?view=<id>`) opens it: its filter
//! replaces the URL's, in place. The list is read when the menu opens and after each change.

use leptos::prelude::*;
use uuid::Uuid;

use crate::api::{delete_saved_search, list_saved_searches, open_saved_search, save_search};
use crate::components::track_open;
use crate::console_state::{saved_url, ConsoleNav};
use crate::error::ConsoleError;
use crate::filter::CanonicalFilter;
use crate::filter::SavedSearch;

#[component]
pub fn SavedSearches() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let open = RwSignal::new(false);
    let reload = RwSignal::new(0u32);
    let problem = RwSignal::new(None::<ConsoleError>);
    // A `view=` that cannot be opened, said beside the menu (which is closed).
    let view_problem = RwSignal::new(None::<ConsoleError>);
    // The list, asked by the browser when the menu opens (and again after a change): an
    // effect, so the server's render never waits on it. An older answer is dropped.
    let list = RwSignal::new(None::<Result<Vec<SavedSearch>, ConsoleError>>);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let is_open = open.get();
        reload.track();
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        if !is_open {
            return;
        }
        leptos::task::spawn_local(async move {
            let answer = list_saved_searches().await;
            if asked.try_get_value() == Some(mine) {
                let _ = list.try_set(Some(answer));
            }
        });
    });
    // `view=<id>` alone: open it. Beside a filter: remember its name for the button.
    let current = RwSignal::new(None::<SavedSearch>);
    Effect::new(move |_| {
        let (view, alone) = nav
            .query
            .with(|q| (q.view, q.filter.as_ref().is_ok_and(|f| f.is_everything())));
        let Some(id) = view else {
            current.set(None);
            view_problem.set(None);
            return;
        };
        if current.with_untracked(|c| c.as_ref().is_some_and(|c| c.id == id)) && !alone {
            return;
        }
        leptos::task::spawn_local(async move {
            match open_saved_search(id).await {
                Ok(saved) => {
                    if alone {
                        match saved.filter.parse() {
                            Ok(f) if !f.is_everything() => nav.show_saved(id, &f, true),
                            Ok(_) => {}
                            Err(e) => view_problem.set(Some(ConsoleError::BadFilter(e))),
                        }
                    }
                    view_problem.set(None);
                    current.set(Some(saved));
                }
                Err(e) => view_problem.set(Some(e)),
            }
        });
    });
    let name = RwSignal::new(String::new());
    let shared = RwSignal::new(false);
    let menu = NodeRef::<leptos::html::Details>::new();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let filter = CanonicalFilter::from(&nav.filter_untracked());
        let (n, s) = (name.get_untracked(), shared.get_untracked());
        leptos::task::spawn_local(async move {
            match save_search(n, filter, s).await {
                Ok(saved) => {
                    problem.set(None);
                    name.set(String::new());
                    reload.update(|r| *r += 1);
                    if let Ok(f) = saved.filter.parse() {
                        nav.show_saved(saved.id, &f, false);
                    }
                    // Saved: the menu closes, its button (now named for the search) focused.
                    if let Some(d) = menu.get_untracked() {
                        crate::components::focus_summary_of(&d, true);
                        let _ = d.remove_attribute("open");
                    }
                }
                Err(e) => problem.set(Some(e)),
            }
        });
    };
    let delete = move |id: Uuid| {
        leptos::task::spawn_local(async move {
            match delete_saved_search(id).await {
                Ok(()) => {
                    problem.set(None);
                    reload.update(|r| *r += 1);
                }
                Err(e) => problem.set(Some(e)),
            }
        });
    };
    let button_label = move || match current.get() {
        Some(s) if nav.query.with(|q| q.view == Some(s.id)) => format!("Saved search: {}", s.name),
        _ => "Saved searches".to_string(),
    };
    view! {
        <details class="picker saved-searches" node_ref=menu on:toggle=track_open(open)>
            <summary data-testid="saved-searches">{button_label}</summary>
            <div class="picker-panel saved-panel">
                {move || problem.get().map(|e| view! { <p class="field-error" role="alert">{e.to_string()}</p> })}
                {move || match list.get() {
                    None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Some(r) => match r {
                        Ok(all) if all.is_empty() => view! {
                            <p class="muted">"No saved searches yet."</p>
                        }.into_any(),
                        Ok(all) => view! {
                            <ul class="saved-list">
                                {all.into_iter().map(|s| {
                                    let id = s.id;
                                    let href = s.filter.parse().map(|f| saved_url(&f, id)).unwrap_or_default();
                                    let whose = if s.mine {
                                        if s.shared { "yours, shared".to_string() } else { "yours, private".to_string() }
                                    } else {
                                        format!("shared by {}", s.owner_name)
                                    };
                                    let name_for_delete = format!("Delete saved search {}", s.name);
                                    view! {
                                        <li>
                                            <a href=href>{s.name.clone()}</a>
                                            <span class="muted">" · " {whose}</span>
                                            {s.mine.then(|| view! {
                                                <button type="button" class="link-button" aria-label=name_for_delete
                                                    on:click=move |_| delete(id)>"Delete"</button>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                    },
                }}
                <form class="save-search" on:submit=save>
                    <label>"Save this search as"
                        <input type="text" maxlength="100" required=true data-testid="saved-search-name"
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))/>
                    </label>
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=move || shared.get()
                            on:change=move |ev| shared.set(event_target_checked(&ev))/>
                        "Share with every reader"
                    </label>
                    <button type="submit" class="secondary">"Save"</button>
                </form>
            </div>
        </details>
        {move || view_problem.get().map(|e| view! {
            <p class="field-error saved-problem" role="alert" data-testid="saved-search-problem">{e.to_string()}</p>
        })}
    }
}
