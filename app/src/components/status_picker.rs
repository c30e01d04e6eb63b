//! All / Success / Failure.

use leptos::prelude::*;

use crate::console_state::ConsoleNav;
use crate::model::Status;

#[component]
pub fn StatusPicker() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let current = move || nav.filter().status.map(Status::as_str).unwrap_or("");
    view! {
        <label class="control">
            <span class="control-label">"Status"</span>
            <select
                data-testid="status-picker"
                prop:value=current
                on:change=move |ev| {
                    let status = Status::parse(&event_target_value(&ev));
                    nav.update_filter(|f| f.status = status);
                }
            >
                <option value="" selected=move || current().is_empty()>"All"</option>
                <option value="success" selected=move || current() == "success">"Success"</option>
                <option value="failure" selected=move || current() == "failure">"Failure"</option>
            </select>
        </label>
    }
}
