//! "Only this" (=) and "Leave this out" (≠) beside a value (in the detail panel, the top values
//! and, on hover, a row of the table): one click makes the value a filter or an exclusion
//! ([`Filter::narrowed`](crate::filter::Filter::narrowed)), from the filter as it is at the
//! click, with an open entry kept open. A click on them never reaches the row beneath.

use leptos::prelude::*;

use crate::console_state::ConsoleNav;
use crate::filter::Exclusion;

#[component]
pub fn ValueFilter(
    /// The value, as the filter holds it.
    value: Exclusion,
    /// What people read for it ("IP 10.0.3.7").
    label: String,
    /// In a table row: shown while the pointer is on the cell, and out of the tab order (the
    /// keyboard reaches the same buttons in the row's detail panel).
    #[prop(optional)]
    in_row: bool,
) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let change = move |exclude: bool| {
        let value = value.clone();
        move |ev: leptos::ev::MouseEvent| {
            ev.stop_propagation();
            let value = value.clone();
            nav.update_filter_keeping_entry(|f| *f = f.narrowed(value, exclude));
        }
    };
    view! {
        <span class="value-filter" class:in-row=in_row>
            <button type="button" class="value-action" title=format!("Show only {label}")
                tabindex=in_row.then_some("-1")
                aria-label=format!("Show only {label}") on:click=change(false)>"="</button>
            <button type="button" class="value-action" title=format!("Leave out {label}")
                tabindex=in_row.then_some("-1")
                aria-label=format!("Leave out {label}") on:click=change(true)>"≠"</button>
        </span>
    }
}
