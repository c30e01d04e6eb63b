//! A filter typed into one field (the resource and IP filters), applied as you type: after a
//! pause, or at once on Enter. An empty field removes the filter. A value the filter refuses
//! changes nothing and says so beside the field ("Not applied: …"), so a typed value never
//! looks applied while the table and the export cover something else.
//!
//! The field follows the URL only when the URL's value changed for another reason (a chip
//! removed, back/forward): keys typed while the last value is being applied all stay.

use std::time::Duration;

use leptos::prelude::*;

use crate::components::Debounce;
use crate::console_state::ConsoleNav;
use crate::filter::Filter;

/// The pause in typing after which what is typed applies.
const TYPING_PAUSE: Duration = Duration::from_millis(600);

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
    let text = RwSignal::new(read(&nav.filter_untracked()).unwrap_or_default());
    let problem = RwSignal::new(None::<String>);
    // The value this field last applied (or found in the URL).
    let sent = StoredValue::new(read(&nav.filter_untracked()));
    Effect::new(move |_| {
        let now = read(&nav.filter());
        if sent.get_value() != now {
            sent.set_value(now.clone());
            problem.set(None);
            text.set(now.unwrap_or_default());
        }
    });
    let apply = move |replace: bool| {
        let value = text.get_untracked().trim().to_string();
        let value = (!value.is_empty()).then_some(value);
        let mut f = nav.filter_untracked();
        match write(&mut f, value.as_deref()) {
            Ok(()) => {
                problem.set(None);
                let applied = read(&f);
                if sent.get_value() != applied {
                    sent.set_value(applied);
                    nav.update_filter_with(
                        |now| {
                            let _ = write(now, value.as_deref());
                        },
                        replace,
                    );
                }
            }
            Err(m) => problem.set(Some(m)),
        }
    };
    let typing = Debounce::new(TYPING_PAUSE);
    // What is typed differs from what the table shows (until the pause, or refused).
    let pending = move || {
        let current = nav.filter();
        let typed = text.get();
        let typed = typed.trim();
        let mut f = current.clone();
        write(&mut f, (!typed.is_empty()).then_some(typed)).is_err() || read(&f) != read(&current)
    };
    view! {
        <form class=format!("control field-filter {class}") on:submit=move |ev| {
            ev.prevent_default();
            apply(false);
        }>
            <label>
                <span class="control-label">{label}</span>
                <input
                    type="text"
                    data-testid=testid
                    placeholder=placeholder
                    class:pending=pending
                    prop:value=move || text.get()
                    on:input=move |ev| {
                        text.set(event_target_value(&ev));
                        typing.call(move || apply(true));
                    }
                    // Leaving the field applies what it holds at once: a button clicked right
                    // after typing (Export, a rule's Save) acts on it, not on what came before.
                    on:change=move |_| apply(true)
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                />
            </label>
            {move || problem.get().map(|m| view! {
                <span class="field-error" role="alert" data-testid=format!("{testid}-problem")>
                    {format!("Not applied: {m}")}
                </span>
            })}
        </form>
    }
}
