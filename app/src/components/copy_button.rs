//! A button that copies text to the clipboard and says so.

use leptos::prelude::*;

/// Copies `text()` when clicked (the text is read at that moment).
#[component]
pub fn CopyButton(
    text: impl Fn() -> String + Send + Sync + 'static,
    label: &'static str,
    #[prop(optional)] testid: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        let value = text();
        let clipboard = window().navigator().clipboard();
        let promise = clipboard.write_text(&value);
        leptos::task::spawn_local(async move {
            if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
                copied.set(true);
                set_timeout(move || copied.set(false), std::time::Duration::from_secs(2));
            }
        });
    };
    view! {
        <button type="button" class="secondary" data-testid=testid on:click=copy>
            {move || if copied.get() { "Copied ✓" } else { label }}
        </button>
    }
}
