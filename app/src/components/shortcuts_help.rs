//! `?`: the keyboard shortcuts of the audit page, in a small dialog (Escape or Close closes it,
//! and the focus goes back where it was).

use leptos::prelude::*;

/// The shortcuts, as the dialog lists them.
pub const SHORTCUTS: [(&str, &str); 9] = [
    ("/", "Search"),
    ("?", "This list"),
    ("↓ ↑", "Move through the entries (and the open one)"),
    ("Page Down / Page Up", "A screenful down or up"),
    ("Home / End", "The first or last entry loaded"),
    ("Enter", "Open the selected entry"),
    ("Escape", "Close the entry, a picker or a dialog"),
    ("↓ ↑ in a picker", "Move through its options"),
    ("Enter or Space in a picker", "Tick or untick the option"),
];

#[component]
pub fn ShortcutsHelp(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <Show when=move || open.get()>
            <ShortcutsDialog open/>
        </Show>
    }
}

#[component]
fn ShortcutsDialog(open: RwSignal<bool>) -> impl IntoView {
    crate::components::return_focus_on_close();
    let dialog = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = dialog.get() {
            let _ = el.focus();
        }
    });
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            open.set(false);
        }
    });
    on_cleanup(move || escape.remove());
    view! {
        <div class="dialog-backdrop" on:click=move |_| open.set(false)></div>
        <div class="export-dialog shortcuts-dialog" role="dialog" aria-modal="true"
            aria-labelledby="shortcuts-title" data-testid="shortcuts" tabindex="-1" node_ref=dialog
            on:keydown=move |ev| {
                if let Some(el) = dialog.get_untracked() {
                    crate::components::trap_tab(&ev, &el);
                }
            }>
            <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
            <dl class="shortcuts">
                {SHORTCUTS.map(|(keys, what)| view! { <dt><kbd>{keys}</kbd></dt><dd>{what}</dd> })}
            </dl>
            <div class="dialog-actions">
                <button type="button" class="secondary" on:click=move |_| open.set(false)>"Close"</button>
            </div>
        </div>
    }
}
