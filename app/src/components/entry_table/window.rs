//! The virtual window: every row is [`ROW_PX`] tall (CSS keeps it so), so the scroll offset
//! alone says which rows are in view, and only those (plus [`OVERSCAN`] rows above and below)
//! are in the DOM, however many are loaded.

use leptos::{ev, html, prelude::*};

use crate::model::AuditEntry;

/// Every row is this tall (CSS keeps it so): the scroll offset says which rows are in view.
pub const ROW_PX: usize = 36;
pub const ROW_HEIGHT: f64 = ROW_PX as f64;
/// Rows rendered above and below the viewport.
pub const OVERSCAN: usize = 20;
/// The viewport assumed before the browser measures it (the server render).
const FIRST_VIEWPORT: f64 = 720.0;

/// Which rows `[first, last)` to render for a scroll offset.
pub fn rows_in_view(scroll_top: f64, viewport: f64, loaded: usize) -> (usize, usize) {
    let top = (scroll_top.max(0.0) / ROW_HEIGHT) as usize;
    let first = top.saturating_sub(OVERSCAN).min(loaded);
    let visible = (viewport.max(0.0) / ROW_HEIGHT).ceil() as usize;
    let last = (top + visible + OVERSCAN).min(loaded);
    (first, last.max(first))
}

/// The scroller's offset and height, and the rows `[first, last)` they put in view.
#[derive(Clone, Copy)]
pub struct VirtualWindow {
    pub scroll_top: RwSignal<f64>,
    viewport: RwSignal<f64>,
    pub range: Memo<(usize, usize)>,
}

impl VirtualWindow {
    /// At the top, with the assumed viewport until [`VirtualWindow::follow_viewport`] measures.
    pub fn new(rows: RwSignal<Vec<AuditEntry>>) -> Self {
        let scroll_top = RwSignal::new(0.0);
        let viewport = RwSignal::new(FIRST_VIEWPORT);
        let range =
            Memo::new(move |_| rows_in_view(scroll_top.get(), viewport.get(), rows.with(Vec::len)));
        VirtualWindow {
            scroll_top,
            viewport,
            range,
        }
    }

    /// Measures `scroller` once it is in the page and again whenever the window is resized.
    pub fn follow_viewport(self, scroller: NodeRef<html::Div>) {
        let viewport = self.viewport;
        let measure = move || {
            if let Some(el) = scroller.get_untracked() {
                viewport.set(el.client_height() as f64);
            }
        };
        Effect::new(move |_| {
            if scroller.get().is_some() {
                measure();
            }
        });
        let resize = window_event_listener(ev::resize, move |_| measure());
        on_cleanup(move || resize.remove());
    }

    /// The rows in view with their indexes among the loaded rows.
    pub fn rows(self, rows: RwSignal<Vec<AuditEntry>>) -> Vec<(usize, AuditEntry)> {
        let (first, last) = self.range.get();
        rows.with(|r| {
            r[first..last]
                .iter()
                .enumerate()
                .map(|(i, e)| (first + i, e.clone()))
                .collect::<Vec<_>>()
        })
    }

    /// The height of the spacer above the rows in view, in CSS.
    pub fn space_above(self) -> String {
        format!("{}px", self.range.get().0 * ROW_PX)
    }

    /// The height of the spacer below the rows in view, in CSS.
    pub fn space_below(self, rows: RwSignal<Vec<AuditEntry>>) -> String {
        let (_, last) = self.range.get();
        format!("{}px", rows.with(Vec::len).saturating_sub(last) * ROW_PX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_viewport_plus_margins() {
        assert_eq!(rows_in_view(0.0, 720.0, 0), (0, 0));
        assert_eq!(rows_in_view(0.0, 720.0, 5), (0, 5));
        assert_eq!(rows_in_view(0.0, 720.0, 100_000), (0, 40));
        // Deep in 100,000 rows: still about 60 rows.
        let (first, last) = rows_in_view(36.0 * 50_000.0, 720.0, 100_000);
        assert_eq!((first, last), (49_980, 50_040));
        assert_eq!(
            rows_in_view(36.0 * 99_999.0, 720.0, 100_000),
            (99_979, 100_000)
        );
    }
}
