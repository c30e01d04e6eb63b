//! The pickers above the audit log's table, and in the alert rule form (there without the time
//! range: a rule watches what is recorded from now on). A click closes every open picker that does not hold it;
//! Escape closes them all (the focus back on the button of the one that had it); ↓ ↑ and Enter
//! work inside the open one.

use leptos::{ev, prelude::*};

use crate::components::{
    ActionPicker, IpFilter, ResourceFilter, StatusPicker, TimeRangePicker, UserPicker,
};

/// Closes the open pickers that do not hold `target` (`None`: all of them). A picker holding
/// the focus gives it to its own button.
fn close_pickers(target: Option<web_sys::Node>) {
    let Ok(open) = document().query_selector_all("details.picker[open]") else {
        return;
    };
    for i in 0..open.length() {
        if let Some(node) = open.item(i) {
            if target.as_ref().is_some_and(|t| node.contains(Some(t))) {
                continue;
            }
            if let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(node) {
                // Escape (no target): also when the focus was lost inside the picker.
                crate::components::focus_summary_of(&el, target.is_none());
                let _ = el.remove_attribute("open");
            }
        }
    }
}

/// The pickers and toggles above the table. A picker closes on a click elsewhere or Escape.
#[component]
pub fn FilterBar(
    /// Without the time range picker (the alert rule form).
    #[prop(optional)]
    without_time: bool,
) -> impl IntoView {
    let clicks = window_event_listener(ev::click, |ev| {
        let target = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Node>(t).ok());
        close_pickers(target);
    });
    let keys = window_event_listener(ev::keydown, |ev| {
        if ev.key() == "Escape" {
            close_pickers(None);
        }
    });
    on_cleanup(move || {
        clicks.remove();
        keys.remove();
    });
    view! {
        <div class="filter-bar" role="toolbar" aria-label="Filters" on:keydown=|ev| {
            // ↓ ↑ and Enter in the open picker holding the focus.
            let open = ev
                .target()
                .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
                .and_then(|el| el.closest("details.picker[open]").ok().flatten());
            if let Some(details) = open {
                crate::components::picker_keys(&ev, &details);
            }
        }>
            <UserPicker/>
            <ActionPicker/>
            {(!without_time).then(|| view! { <TimeRangePicker/> })}
            <StatusPicker/>
            <ResourceFilter/>
            <IpFilter/>
        </div>
    }
}
