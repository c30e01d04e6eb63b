//! The face of a picker: its name and how many values are chosen.

use leptos::prelude::*;

/// Sets `open` from a `<details>` toggle event: pickers load their options only while open.
pub fn track_open(open: RwSignal<bool>) -> impl Fn(leptos::ev::Event) + 'static {
    move |ev| {
        let el: web_sys::HtmlDetailsElement = event_target(&ev);
        open.set(el.open());
    }
}

#[component]
pub fn PickerSummary(
    label: &'static str,
    testid: &'static str,
    #[prop(into)] chosen: Signal<usize>,
) -> impl IntoView {
    view! {
        <summary data-testid=testid>
            {label}
            {move || {
                let n = chosen.get();
                (n > 0).then(|| view! { <span class="picker-badge">{n}</span> })
            }}
        </summary>
    }
}
