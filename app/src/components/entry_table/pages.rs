//! The entries loaded so far: the first page arrives with the table (rendered by the server),
//! the next is fetched by its cursor when the window nears the end of what is loaded, one
//! fetch at a time; after a failed fetch nothing more is fetched until Retry clears the error.

use leptos::prelude::*;

use super::window::OVERSCAN;
use crate::api::search_entries;
use crate::filter::CanonicalFilter;
use crate::model::{AuditEntry, EntryPage};

/// The loaded rows and the state of fetching more.
#[derive(Clone, Copy)]
pub struct Pages {
    pub rows: RwSignal<Vec<AuditEntry>>,
    /// The cursor of the next page (`None`: everything is loaded).
    pub next: RwSignal<Option<String>>,
    pub loading: RwSignal<bool>,
    pub load_error: RwSignal<Option<String>>,
}

impl Pages {
    pub fn new(first_page: EntryPage) -> Self {
        Pages {
            rows: RwSignal::new(first_page.entries),
            next: RwSignal::new(first_page.next_cursor),
            loading: RwSignal::new(false),
            load_error: RwSignal::new(None),
        }
    }

    /// Fetches the next page of `filter`, unless everything is loaded or a fetch is under way.
    fn load_more(self, filter: StoredValue<CanonicalFilter>) {
        let Some(cursor) = self.next.get_untracked() else {
            return;
        };
        if self.loading.get_untracked() {
            return;
        }
        self.loading.set(true);
        self.load_error.set(None);
        leptos::task::spawn_local(async move {
            match search_entries(filter.get_value(), Some(cursor)).await {
                Ok(page) => {
                    self.rows.update(|r| r.extend(page.entries));
                    self.next.set(page.next_cursor);
                }
                Err(e) => self.load_error.set(Some(e.to_string())),
            }
            self.loading.set(false);
        });
    }

    /// Near the end of what is loaded, and more exists: fetch it (again once it arrives, if
    /// the rows in view `range` still reach the end).
    pub fn fetch_near_end(self, range: Memo<(usize, usize)>, filter: StoredValue<CanonicalFilter>) {
        Effect::new(move |_| {
            let (_, last) = range.get();
            let near_end = last + OVERSCAN >= self.rows.with(Vec::len);
            if near_end
                && self.next.with(Option::is_some)
                && !self.loading.get()
                && self.load_error.with(Option::is_none)
            {
                self.load_more(filter);
            }
        });
    }
}
