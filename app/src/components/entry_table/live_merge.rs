//! Live arrivals in the table: they go on top while the view is at the top and not paused;
//! otherwise they wait behind the "new entries" pill, so reading further down is never yanked.
//! An arrival at or below the newest entry shown is already in the table and is dropped.

use leptos::prelude::*;

use super::window::ROW_HEIGHT;
use crate::live_feed::LiveFeed;
use crate::model::AuditEntry;

/// How long a live arrival stays highlighted.
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Clone, Copy)]
pub struct LiveMerge {
    feed: Option<LiveFeed>,
    /// The seqs of entries that just arrived (briefly highlighted).
    pub fresh: RwSignal<Vec<i64>>,
    /// Whether the view is at the top, where arrivals go in at once.
    pub at_top: Memo<bool>,
}

impl LiveMerge {
    /// Merges the page's live feed (if any) into `rows`, whose newest entry is `newest_seq`.
    pub fn new(
        rows: RwSignal<Vec<AuditEntry>>,
        newest_seq: i64,
        scroll_top: RwSignal<f64>,
    ) -> Self {
        // The newest entry shown: live arrivals at or below it are already in the table.
        let newest = StoredValue::new(newest_seq);
        let feed = use_context::<LiveFeed>();
        let fresh = RwSignal::new(Vec::<i64>::new());
        let at_top = Memo::new(move |_| scroll_top.get() < ROW_HEIGHT);
        Effect::new(move |_| {
            let Some(feed) = feed else { return };
            if !at_top.get() || feed.paused.get() || feed.arrived.with(Vec::is_empty) {
                return;
            }
            let arrived = feed.arrived.try_update(std::mem::take).unwrap_or_default();
            let shown = newest.get_value();
            let new: Vec<AuditEntry> = arrived.into_iter().filter(|e| e.seq > shown).collect();
            let Some(top) = new.iter().map(|e| e.seq).max() else {
                return;
            };
            newest.set_value(top);
            let seqs: Vec<i64> = new.iter().map(|e| e.seq).collect();
            fresh.update(|f| f.extend(seqs.iter().copied()));
            rows.update(|r| {
                let mut merged: Vec<AuditEntry> = new.into_iter().rev().collect();
                merged.append(r);
                *r = merged;
            });
            set_timeout(
                move || fresh.update(|f| f.retain(|s| !seqs.contains(s))),
                FRESH_FOR,
            );
        });
        LiveMerge {
            feed,
            fresh,
            at_top,
        }
    }

    /// How many arrivals wait behind the pill (none while paused).
    pub fn waiting(self) -> usize {
        self.feed
            .filter(|f| !f.paused.get())
            .map_or(0, |f| f.arrived.with(Vec::len))
    }
}
