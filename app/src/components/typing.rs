//! Whether the keyboard is the page's or a field's: while typing into a field, `/` and the
//! arrows are the field's, and the page's shortcuts leave them alone.

/// Whether a key press happened while typing into a field (then `/` and the arrows are the
/// field's).
pub fn typing(ev: &leptos::ev::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.has_attribute("contenteditable")
        })
}
