//! The face of a picker (its name and how many values are chosen) and its panel.

use leptos::prelude::*;

use crate::chunks::{when_loaded, Loading};

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

/// A picker's dropdown (a `<div class=class>`), rendered from the first time the picker opens
/// (then kept, with what was typed into it). What fills it is a chunk of its own (see
/// `chunks`): its code is fetched on first use rather than with the page.
pub fn panel_once_opened(
    open: RwSignal<bool>,
    class: &'static str,
    panel: fn(RwSignal<bool>) -> Loading,
) -> impl IntoView {
    let opened =
        Memo::new(move |before: Option<&bool>| before.copied().unwrap_or(false) || open.get());
    move || {
        opened
            .get()
            .then(|| view! { <div class=class>{when_loaded(panel(open))}</div> })
    }
}
