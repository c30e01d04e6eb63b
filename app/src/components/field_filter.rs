//! A filter typed into one field and applied on Enter (the resource and IP filters): the
//! field follows the URL, an empty field removes the filter, and a value the filter refuses
//! is explained beside the field without changing anything.

use leptos::prelude::*;

use crate::console_state::ConsoleNav;
use crate::filter::Filter;

/// `read` shows the filter's value; `write` sets it from what was typed (`None`: cleared) or
/// says why it cannot.
#[component]
pub fn FieldFilter(
    label: &'static str,
    testid: &'static str,
    placeholder: &'static str,
    class: &'static str,
    read: fn(&Filter) -> Option<String>,
    write: fn(&mut Filter, Option<&str>) -> Result<(), String>,
) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let text = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    Effect::new(move |_| text.set(read(&nav.filter()).unwrap_or_default()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = text.get_untracked().trim().to_string();
        let value = (!value.is_empty()).then_some(value);
        let mut f = nav.filter_untracked();
        match write(&mut f, value.as_deref()) {
            Ok(()) => {
                problem.set(None);
                nav.update_filter(|now| {
                    let _ = write(now, value.as_deref());
                });
            }
            Err(m) => problem.set(Some(m)),
        }
    };
    view! {
        <form class=format!("control field-filter {class}") on:submit=submit>
            <label>
                <span class="control-label">{label}</span>
                <input
                    type="text"
                    data-testid=testid
                    placeholder=placeholder
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                />
            </label>
            {move || problem.get().map(|m| view! { <span class="field-error" role="alert">{m}</span> })}
        </form>
    }
}
