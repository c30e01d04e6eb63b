//! The action filter: categories and their actions with counts; a whole category (`config.*`)
//! or single actions.

use leptos::either::EitherOf3;
use leptos::prelude::*;

use crate::action::ActionPattern;
use crate::api::action_facets;
use crate::chunks::Chunk;
use crate::components::{panel_once_opened, track_open, PickerSummary};
use crate::console_state::ConsoleNav;
use crate::filter::Filter;
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
fn action_panel(_open: RwSignal<bool>) -> Chunk {
    Ok(view! { <ActionPanel/> }.into_any())
}

#[component]
fn ActionPanel() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    // Asked the first time the picker opens (the panel is only ever rendered in the browser).
    let facets = RwSignal::new(None::<Result<Vec<ActionCategory>, String>>);
    leptos::task::spawn_local(async move {
        facets.set(Some(action_facets().await.map_err(|e| e.to_string())));
    });
    view! {
        {move || match facets.get() {
            None => EitherOf3::A(view! { <p class="muted">"Loading actions…"</p> }),
            Some(r) => match r {
                Err(m) => EitherOf3::B(view! { <p class="field-error">{m}</p> }),
                Ok(all) => EitherOf3::C({
                    let all = StoredValue::new(all);
                    all.get_value().into_iter().map(|category| {
                        let cat = StoredValue::new(category.clone());
                        let label = category.label();
                        let whole = move || all.with_value(|a| whole_selected(&nav.filter(), &cat.get_value(), a));
                        view! {
                            <fieldset class="action-group">
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
                                        let checked = move || nav.filter().actions.iter().any(|p| p.matches(&checked_action));
                                        view! {
                                            <li>
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
