//! The action filter: categories and their actions with counts; a whole category (`config.*`)
//! or single actions. A search box narrows the list as you type, and what is typed as an
//! action or a pattern (`config.*`, `billing.invoice.*`, an action the log has not seen yet)
//! is added with Enter. Counts are under the other filters on screen (0 where an action has
//! no entry there; every action recorded stays listed).

use leptos::either::EitherOf3;
use leptos::prelude::*;

use crate::action::ActionPattern;
use crate::api::action_facets;
use crate::chunks::Chunk;
use crate::components::{panel_once_opened, track_open, PickerSummary};
use crate::console_state::ConsoleNav;
use crate::filter::{CanonicalFilter, Filter};
use crate::format::thousands;
use crate::model::ActionCategory;

/// Whether `category` as a whole is selected.
fn whole_selected(f: &Filter, category: &ActionCategory, all: &[ActionCategory]) -> bool {
    category.patterns(all).iter().all(|p| f.actions.contains(p))
}

fn toggle_category(f: &mut Filter, category: &ActionCategory, all: &[ActionCategory]) {
    let patterns = category.patterns(all);
    let on = whole_selected(f, category, all);
    // Whole or nothing: single actions of the category make way either way.
    f.actions.retain(|p| {
        !patterns.contains(p)
            && !category
                .actions
                .iter()
                .any(|a| *p == ActionPattern::Exact(a.action.clone()))
    });
    if !on {
        f.actions.extend(patterns);
    }
    f.actions.sort();
}

/// Whether an action (or its category's label) holds what was typed, ignoring case.
fn shown_for(typed: &str, action: &str, label: &str) -> bool {
    let t = typed.trim().to_lowercase();
    t.is_empty() || action.contains(&t) || label.to_lowercase().contains(&t)
}

/// What was typed, as a pattern to add: `config.*` or `user.login`; `None` when it is not one.
fn typed_pattern(typed: &str) -> Option<ActionPattern> {
    let t = typed.trim();
    t.contains('.')
        .then(|| ActionPattern::parse(t).ok())
        .flatten()
}

fn toggle_action(f: &mut Filter, action: &str, category: &ActionCategory) {
    let exact = ActionPattern::Exact(action.to_string());
    if f.actions.contains(&exact) {
        f.actions.retain(|p| *p != exact);
    } else if let Some(covering) = f
        .actions
        .iter()
        .find(|p| matches!(p, ActionPattern::Under(_)) && p.matches(action))
        .cloned()
    {
        // Unticking one action of a whole category: keep its siblings, one by one.
        f.actions.retain(|p| *p != covering);
        for a in &category.actions {
            if a.action != action && covering.matches(&a.action) {
                f.actions.push(ActionPattern::Exact(a.action.clone()));
            }
        }
    } else {
        f.actions.push(exact);
    }
    f.actions.sort();
    f.actions.dedup();
}

#[component]
pub fn ActionPicker() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let open = RwSignal::new(false);
    view! {
        <details class="picker" on:toggle=track_open(open)>
            <PickerSummary label="Action" testid="action-picker"
                chosen=Signal::derive(move || nav.filter().actions.len())/>
            {panel_once_opened(open, "picker-panel action-panel", |open| Box::pin(action_panel(open)))}
        </details>
    }
}

#[wasm_split_helpers::wasm_split(action_panel, fallible)]
fn action_panel(open: RwSignal<bool>) -> Chunk {
    Ok(view! { <ActionPanel open/> }.into_any())
}

#[component]
fn ActionPanel(open: RwSignal<bool>) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    // Counted under the other filters on screen: the filter without its actions. Asked while
    // the picker is open (effects run only in the browser), again when those filters changed
    // since the last answer; an answer to an older question is dropped.
    let others = Memo::new(move |_| {
        let mut f = nav.filter();
        f.actions.clear();
        f
    });
    let facets = RwSignal::new(None::<Result<Vec<ActionCategory>, String>>);
    let asked = StoredValue::new((0u64, None::<Filter>));
    Effect::new(move |_| {
        let (open, others) = (open.get(), others.get());
        if !open || asked.with_value(|(_, last)| last.as_ref() == Some(&others)) {
            return;
        }
        let mine = asked.with_value(|(n, _)| n + 1);
        asked.set_value((mine, Some(others.clone())));
        facets.set(None);
        leptos::task::spawn_local(async move {
            let answer = action_facets(CanonicalFilter::from(&others))
                .await
                .map_err(|e| e.to_string());
            if asked.try_with_value(|(n, _)| *n) == Some(mine) {
                facets.set(Some(answer));
            }
        });
    });
    let filtered = move || !others.with(Filter::is_everything);
    let typed = RwSignal::new(String::new());
    let pattern = Memo::new(move |_| typed.with(|t| typed_pattern(t)));
    let add_typed = move || {
        if let Some(p) = pattern.get_untracked() {
            nav.update_filter(|f| {
                if !f.actions.contains(&p) {
                    f.actions.push(p);
                    f.actions.sort();
                }
            });
            typed.set(String::new());
        }
    };
    view! {
        <input type="search" class="action-search" data-testid="action-search"
            placeholder="Search actions, or type config.*"
            aria-label="Search actions, or type an action or a pattern such as config.* and press Enter"
            prop:value=move || typed.get()
            on:input=move |ev| typed.set(event_target_value(&ev))
            on:keydown=move |ev| {
                if ev.key() == "Enter" {
                    ev.prevent_default();
                    add_typed();
                }
            }/>
        {move || pattern.get().map(|p| view! {
            <button type="button" class="secondary small add-pattern" data-testid="add-action-pattern"
                on:click=move |_| add_typed()>{format!("Add action filter: {p}")}</button>
        })}
        {move || filtered().then(|| view! {
            <p class="picker-note muted" data-testid="action-counts-note">"Counts under the other filters on screen."</p>
        })}
        {move || match facets.get() {
            None => EitherOf3::A(view! { <p class="muted">"Loading actions…"</p> }),
            Some(r) => match r {
                Err(m) => EitherOf3::B(view! { <p class="field-error">{m}</p> }),
                Ok(all) => EitherOf3::C({
                    let all = StoredValue::new(all);
                    all.get_value().into_iter().map(|category| {
                        let cat = StoredValue::new(category.clone());
                        let label = category.label();
                        let actions: Vec<String> = category.actions.iter().map(|a| a.action.clone()).collect();
                        let category_label = label.to_string();
                        let item_label = label.to_string();
                        let group_shown = move || typed.with(|t| actions.iter().any(|a| shown_for(t, a, &category_label)));
                        let whole = move || all.with_value(|a| whole_selected(&nav.filter(), &cat.get_value(), a));
                        view! {
                            <fieldset class="action-group" class:hidden=move || !group_shown()>
                                <legend>
                                    <label>
                                        <input type="checkbox" prop:checked=whole
                                            data-testid=format!("category-{}", category.category)
                                            on:change=move |_| all.with_value(|a| {
                                                let c = cat.get_value();
                                                nav.update_filter(|f| toggle_category(f, &c, a))
                                            })/>
                                        <span class="option-main">{label}</span>
                                        <span class="option-count">{thousands(category.count)}</span>
                                    </label>
                                </legend>
                                <ul class="picker-options">
                                    {category.actions.iter().map(|a| {
                                        let action = a.action.clone();
                                        let checked_action = a.action.clone();
                                        let shown_action = a.action.clone();
                                        let shown_label = item_label.clone();
                                        let shown = move || typed.with(|t| shown_for(t, &shown_action, &shown_label));
                                        let checked = move || nav.filter().actions.iter().any(|p| p.matches(&checked_action));
                                        view! {
                                            <li class:hidden=move || !shown()>
                                                <label>
                                                    <input type="checkbox" prop:checked=checked
                                                        on:change=move |_| {
                                                            let c = cat.get_value();
                                                            nav.update_filter(|f| toggle_action(f, &action, &c))
                                                        }/>
                                                    <code class=format!("action-badge cat-{}", category.category)>{a.action.clone()}</code>
                                                    <span class="option-count">{thousands(a.count)}</span>
                                                </label>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            </fieldset>
                        }
                    }).collect_view()
                }),
            },
        }}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats() -> Vec<ActionCategory> {
        ActionCategory::group(
            [
                "config.created",
                "config.updated",
                "user.invited",
                "user.login",
                "user.logout",
            ]
            .iter()
            .map(|a| (a.to_string(), 1))
            .collect(),
        )
    }

    #[test]
    fn typed_text_narrows_and_patterns_are_added() {
        assert!(shown_for("", "user.login", "Authentication"));
        assert!(shown_for("LOGIN", "user.login", "Authentication"));
        assert!(shown_for("auth", "user.login", "Authentication"));
        assert!(!shown_for("config", "user.login", "Authentication"));
        assert_eq!(
            typed_pattern(" config.* "),
            Some(ActionPattern::Under("config".into()))
        );
        assert_eq!(
            typed_pattern("billing.invoice.paid"),
            Some(ActionPattern::Exact("billing.invoice.paid".into()))
        );
        // A word alone narrows the list; it is not a pattern.
        assert_eq!(typed_pattern("login"), None);
        assert_eq!(typed_pattern("user.log*"), None);
    }

    #[test]
    fn category_and_action_toggles() {
        let all = cats();
        let config = all.iter().find(|c| c.category == "config").unwrap();
        let mut f = Filter::parse("action=config.updated").unwrap();
        toggle_category(&mut f, config, &all);
        assert_eq!(f.to_query_string(), "action=config.*");
        toggle_action(&mut f, "config.updated", config);
        assert_eq!(f.to_query_string(), "action=config.created");
        toggle_category(&mut f, config, &all);
        assert_eq!(f.to_query_string(), "action=config.*");
        toggle_category(&mut f, config, &all);
        assert_eq!(f.to_query_string(), "");
        let auth = all.iter().find(|c| c.category == "auth").unwrap();
        toggle_category(&mut f, auth, &all);
        assert_eq!(f.to_query_string(), "action=user.login&action=user.logout");
        assert!(whole_selected(&f, auth, &all));
    }
}
