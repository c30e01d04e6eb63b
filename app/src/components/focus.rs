//! Focus for keyboard users: whatever opens a panel, dialog or notice gets the focus back when
//! it closes (never left on `<body>`), and a modal dialog keeps Tab inside itself.

use leptos::prelude::*;

/// Remembers the element holding the focus now (the control that opened the caller) and gives
/// the focus back to it when the calling component is cleaned up (its panel or dialog closed),
/// if it is still on the page.
pub fn return_focus_on_close() {
    #[cfg(feature = "hydrate")]
    {
        let opener = send_wrapper::SendWrapper::new(document().active_element());
        on_cleanup(move || {
            use wasm_bindgen::JsCast;
            if let Some(el) = opener.take() {
                if el.is_connected() {
                    if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
                        let _ = el.focus();
                    }
                }
            }
        });
    }
}

/// Gives the focus back to the `<summary>` of the `<details>` holding `el`, when the focus is
/// inside it (or, with `lost_too`, on nothing: the option that had it was re-drawn): a picker
/// closed by Escape or by a choice leaves the focus on its button.
pub fn focus_summary_of(el: &web_sys::Element, lost_too: bool) {
    use wasm_bindgen::JsCast;
    let Some(details) = el.closest("details").ok().flatten() else {
        return;
    };
    let active = document().active_element();
    let lost = active
        .as_ref()
        .is_none_or(|a| a.tag_name().eq_ignore_ascii_case("body"));
    let holds_focus = active.is_some_and(|a| details.contains(Some(&a))) || (lost_too && lost);
    if holds_focus {
        if let Some(summary) = details
            .query_selector("summary")
            .ok()
            .flatten()
            .and_then(|s| s.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = summary.focus();
        }
    }
}

/// Keeps Tab and Shift+Tab inside `container` (a modal dialog): past the last focusable
/// element to the first, and back.
pub fn trap_tab(ev: &leptos::ev::KeyboardEvent, container: &web_sys::Element) {
    use wasm_bindgen::JsCast;
    if ev.key() != "Tab" {
        return;
    }
    let items = shown(
        container,
        "a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]:not([tabindex='-1'])",
    );
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return;
    };
    let active = document().active_element();
    let at = |e: &web_sys::HtmlElement| {
        active
            .as_ref()
            .is_some_and(|a| a == e.unchecked_ref::<web_sys::Element>())
    };
    let outside = active.as_ref().is_none_or(|a| !container.contains(Some(a)));
    if ev.shift_key() && (at(first) || outside) {
        ev.prevent_default();
        let _ = last.focus();
    } else if !ev.shift_key() && (at(last) || outside) {
        ev.prevent_default();
        let _ = first.focus();
    }
}

/// The keys of an open picker (`container`, its `<details>`): ↓ and ↑ move the focus through
/// its fields and options (from its button too), Enter ticks or unticks the option with the
/// focus (as Space does).
pub fn picker_keys(ev: &leptos::ev::KeyboardEvent, container: &web_sys::Element) {
    use wasm_bindgen::JsCast;
    let target = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
    match ev.key().as_str() {
        "Enter" => {
            if let Some(input) = target.filter(|i| i.type_() == "checkbox") {
                ev.prevent_default();
                input.click();
            }
        }
        key @ ("ArrowDown" | "ArrowUp") => {
            let items = shown(container, "input, button");
            if items.is_empty() {
                return;
            }
            let active = document().active_element();
            let here = items
                .iter()
                .position(|e| active.as_ref() == Some(e.unchecked_ref::<web_sys::Element>()));
            let next = match (key, here) {
                ("ArrowDown", None) => 0,
                ("ArrowDown", Some(i)) => (i + 1).min(items.len() - 1),
                (_, None) | (_, Some(0)) => 0,
                (_, Some(i)) => i - 1,
            };
            ev.prevent_default();
            let _ = items[next].focus();
        }
        _ => {}
    }
}

/// The elements inside `container` matching `selector` that are shown (laid out), in order.
fn shown(container: &web_sys::Element, selector: &str) -> Vec<web_sys::HtmlElement> {
    use wasm_bindgen::JsCast;
    let Ok(list) = container.query_selector_all(selector) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .filter(|e| e.offset_parent().is_some())
        .collect()
}
