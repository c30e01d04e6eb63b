//! The keyboard in the table: the arrows move the selection (keeping it in view), Page Up and
//! Page Down by a screenful, Home and End to the first and last row loaded; Enter opens it. While the detail panel is open, the arrows move the open entry too, wherever the focus
//! is (but not while typing, nor in the table, which handles them itself).

use leptos::{ev, html, prelude::*};

use super::window::ROW_HEIGHT;
use crate::components::typing;
use crate::console_state::ConsoleNav;
use crate::model::AuditEntry;

/// What a key press in the table reads and moves.
#[derive(Clone, Copy)]
pub struct TableKeys {
    pub nav: ConsoleNav,
    pub rows: RwSignal<Vec<AuditEntry>>,
    /// The selected row's seq.
    pub selected: RwSignal<Option<i64>>,
    /// The entry open in the detail panel.
    pub open_id: Memo<Option<uuid::Uuid>>,
    pub scroller: NodeRef<html::Div>,
}

impl TableKeys {
    /// A key pressed in the table.
    pub fn press(self, ev: ev::KeyboardEvent) {
        let TableKeys {
            nav,
            rows,
            selected,
            open_id,
            scroller,
        } = self;
        let panel_open = open_id.get_untracked().is_some();
        // Rows a screenful holds (the header row aside), for Page Up and Page Down.
        let page = scroller
            .get_untracked()
            .map(|el| ((el.client_height() as f64 / ROW_HEIGHT) as isize - 2).max(1))
            .unwrap_or(10);
        enum Move {
            By(isize),
            First,
            Last,
        }
        let movement = match ev.key().as_str() {
            "ArrowDown" => Move::By(1),
            "ArrowUp" => Move::By(-1),
            "PageDown" => Move::By(page),
            "PageUp" => Move::By(-page),
            "Home" => Move::First,
            "End" => Move::Last,
            "Enter" => {
                let id = selected.get_untracked().and_then(|seq| {
                    rows.with_untracked(|r| r.iter().find(|e| e.seq == seq).map(|e| e.id))
                });
                if let Some(id) = id {
                    ev.prevent_default();
                    nav.open_entry(id);
                }
                return;
            }
            _ => return,
        };
        ev.prevent_default();
        let n = rows.with_untracked(Vec::len);
        if n == 0 {
            return;
        }
        // From the open entry when there is one, else from the selection.
        let current = open_id
            .get_untracked()
            .and_then(|id| rows.with_untracked(|r| r.iter().position(|e| e.id == id)))
            .or_else(|| {
                selected
                    .get_untracked()
                    .and_then(|seq| rows.with_untracked(|r| r.iter().position(|e| e.seq == seq)))
            });
        let index = match (movement, current) {
            (Move::First, _) | (Move::By(_), None) => 0,
            (Move::Last, _) => n - 1,
            (Move::By(step), Some(i)) => (i as isize + step).clamp(0, n as isize - 1) as usize,
        };
        let (seq, id) = rows.with_untracked(|r| (r[index].seq, r[index].id));
        selected.set(Some(seq));
        if panel_open && open_id.get_untracked() != Some(id) {
            nav.open_entry(id);
        }
        if let Some(el) = scroller.get_untracked() {
            scroll_into_view(&el, index);
        }
    }

    /// Arrows pressed elsewhere on the page (the panel, the header) while an entry is open
    /// move it, for as long as the table is shown.
    pub fn listen_on_page(self) {
        let TableKeys {
            open_id, scroller, ..
        } = self;
        let keys = window_event_listener(ev::keydown, move |ev| {
            let in_table = scroller.get_untracked().is_some_and(|el| {
                ev.target()
                    .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Node>(t).ok())
                    .is_some_and(|t| el.contains(Some(&t)))
            });
            // The raw JSON (focusable) scrolls with the arrows.
            let in_scrollable = ev
                .target()
                .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
                .and_then(|el| el.closest("pre, textarea, select").ok().flatten())
                .is_some();
            if in_table
                || in_scrollable
                || ev.default_prevented()
                || open_id.get_untracked().is_none()
                || !matches!(ev.key().as_str(), "ArrowUp" | "ArrowDown")
                || typing(&ev)
            {
                return;
            }
            self.press(ev);
        });
        on_cleanup(move || keys.remove());
    }
}

/// Scrolls the table just enough to show row `index` below the header row.
fn scroll_into_view(el: &web_sys::Element, index: usize) {
    let top = index as f64 * ROW_HEIGHT;
    let header = ROW_HEIGHT;
    let view_h = el.client_height() as f64 - header;
    let scrolled = el.scroll_top() as f64;
    if top < scrolled {
        el.set_scroll_top(top as i32);
    } else if top + ROW_HEIGHT > scrolled + view_h {
        el.set_scroll_top((top + ROW_HEIGHT - view_h) as i32);
    }
}
