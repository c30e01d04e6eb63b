//! The console URL is the source of truth: `/audit?<canonical filter>&entry=<id>&live=1`. Pages read
//! it through [`ConsoleQuery`] and change it through [`ConsoleNav`], never keep a second copy.
//! (The one console that is not the address is the alert rule form's filter: a
//! [`ConsoleNav::in_place`] over the form's own query string, so the same pickers build it.)

use leptos::prelude::*;
use leptos_router::{
    hooks::{use_location, use_navigate},
    NavigateOptions,
};
use uuid::Uuid;

use crate::filter::{Filter, FilterError, Order};

/// Console-only parameters next to the filter.
pub const CONSOLE_PARAMS: [&str; 3] = ["entry", "live", "view"];

#[derive(Clone, Debug, PartialEq)]
pub struct ConsoleQuery {
    /// The filter, or why the URL's filter was refused.
    pub filter: Result<Filter, FilterError>,
    /// The entry open in the detail panel.
    pub entry: Option<Uuid>,
    /// Live mode: new entries stream in at the top (newest first only).
    pub live: bool,
    /// The saved search the URL names (`view=<id>`): alone, it is opened (its filter replaces
    /// the URL's); beside a filter, it names what is shown until the filter changes.
    pub view: Option<Uuid>,
    /// When the filter was refused: the console URL with every parameter that can be used
    /// (the refused ones dropped, the others kept as they were), `None` when nothing is left.
    pub recovery: Option<String>,
}

impl ConsoleQuery {
    pub fn parse(search: &str) -> Self {
        let search = search.strip_prefix('?').unwrap_or(search);
        let mut query = Self::parse_once(search);
        if query.filter.is_err() {
            query.recovery = recover(search);
        }
        query
    }

    fn parse_once(search: &str) -> Self {
        match Filter::parse_with_extra(search, &CONSOLE_PARAMS) {
            Ok((filter, extra)) => {
                let mut entry = None;
                let mut live = false;
                let mut view = None;
                let refused = |key: &str, message: &str| ConsoleQuery {
                    filter: Err(FilterError::new(key, message)),
                    entry: None,
                    live: false,
                    view: None,
                    recovery: None,
                };
                for (key, value) in extra {
                    if key == "view" {
                        match Uuid::parse_str(&value) {
                            Ok(id) if view.is_none() => view = Some(id),
                            _ => return refused(&key, "must be one saved search id (a UUID)"),
                        }
                        continue;
                    }
                    if key == "live" {
                        if value != "1" || live {
                            return refused(&key, "must be live=1, once");
                        }
                        live = true;
                        continue;
                    }
                    match Uuid::parse_str(&value) {
                        Ok(id) if entry.is_none() => entry = Some(id),
                        _ => return refused(&key, "must be one entry id (a UUID)"),
                    }
                }
                ConsoleQuery {
                    live: live && filter.order == Order::Desc,
                    filter: Ok(filter),
                    entry,
                    view,
                    recovery: None,
                }
            }
            Err(e) => ConsoleQuery {
                filter: Err(e),
                entry: None,
                live: false,
                view: None,
                recovery: None,
            },
        }
    }

    /// The filter to show controls for: the URL's, or none when it was refused.
    pub fn filter_or_default(&self) -> Filter {
        self.filter.clone().unwrap_or_default()
    }
}

/// The console URL of a refused query with the parameters that can be used: parameters are
/// dropped one refused name at a time (all its values), until what is left parses. `None` when
/// nothing narrows what is left (the whole log: the page's own "Show all entries").
fn recover(search: &str) -> Option<String> {
    let mut pairs: Vec<&str> = search.split('&').filter(|p| !p.is_empty()).collect();
    for _ in 0..pairs.len() {
        let query = pairs.join("&");
        let parsed = ConsoleQuery::parse_strict(&query);
        match parsed {
            Ok(q) if q.filter.as_ref().is_ok_and(|f| !f.is_everything()) || q.entry.is_some() => {
                return Some(console_url(&q.filter.unwrap_or_default(), q.entry, q.live));
            }
            Ok(_) => return None,
            Err(bad) => {
                let before = pairs.len();
                pairs.retain(|p| {
                    let key = p.split_once('=').map_or(*p, |(k, _)| k);
                    crate::filter::percent_decode(key).as_deref() != Some(bad.as_str())
                });
                if pairs.len() == before {
                    return None;
                }
            }
        }
    }
    None
}

impl ConsoleQuery {
    /// The query, or the name of the parameter refused (no recovery attempted).
    fn parse_strict(search: &str) -> Result<ConsoleQuery, String> {
        let q = ConsoleQuery::parse_once(search);
        match q.filter {
            Err(e) => Err(e.param),
            Ok(_) => Ok(q),
        }
    }
}

/// `/audit?action=config.*&entry=…&live=1`. Live mode shows newest first only, so an
/// oldest-first filter drops it.
pub fn console_url(filter: &Filter, entry: Option<Uuid>, live: bool) -> String {
    let mut query = filter.to_query_string();
    let mut extra = Vec::new();
    if let Some(id) = entry {
        extra.push(format!("entry={id}"));
    }
    if live && filter.order == Order::Desc {
        extra.push("live=1".to_string());
    }
    for part in extra {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&part);
    }
    if query.is_empty() {
        "/audit".to_string()
    } else {
        format!("/audit?{query}")
    }
}

/// `console_url` of a saved search's filter, with `view=<id>` naming it.
pub fn saved_url(filter: &Filter, id: Uuid) -> String {
    let url = console_url(filter, None, false);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}view={id}")
}

/// Goes to a console URL; `true` replaces the current history entry.
type Navigate = Box<dyn Fn(&str, bool) + Send + Sync>;

/// Reads and changes the console URL. Provided by the audit page as context.
#[derive(Clone, Copy)]
pub struct ConsoleNav {
    pub query: Memo<ConsoleQuery>,
    navigate: StoredValue<Navigate>,
}

impl ConsoleNav {
    pub fn new() -> Self {
        let location = use_location();
        let query = Memo::new(move |_| ConsoleQuery::parse(&location.search.get()));
        let navigate = use_navigate();
        let go = move |url: &str, replace: bool| {
            navigate(
                url,
                NavigateOptions {
                    replace,
                    scroll: false,
                    ..Default::default()
                },
            )
        };
        ConsoleNav {
            query,
            navigate: StoredValue::new(Box::new(go)),
        }
    }

    /// A console that is not the page's address: the filter lives in `search` (a query string
    /// without `?`), and every change the pickers, the search box and the chips make lands
    /// there instead of in the URL. The alert rule form builds its filter with it.
    pub fn in_place(search: RwSignal<String>) -> Self {
        let query = Memo::new(move |_| ConsoleQuery::parse(&search.get()));
        // Only the filter: an open entry, live mode or a saved search's name mean nothing here.
        let go = move |url: &str, _replace: bool| {
            let query = url.split_once('?').map_or("", |(_, q)| q);
            let filter: Vec<&str> = query
                .split('&')
                .filter(|p| {
                    let key = p.split_once('=').map_or(*p, |(k, _)| k);
                    !p.is_empty() && !CONSOLE_PARAMS.contains(&key)
                })
                .collect();
            search.set(filter.join("&"));
        };
        ConsoleNav {
            query,
            navigate: StoredValue::new(Box::new(go)),
        }
    }

    /// The filter the page shows (untracked reads are for event handlers).
    pub fn filter(&self) -> Filter {
        self.query.with(ConsoleQuery::filter_or_default)
    }

    pub fn filter_untracked(&self) -> Filter {
        self.query.with_untracked(ConsoleQuery::filter_or_default)
    }

    /// Shows `filter`'s results (the detail panel closes). `replace` for keystroke-driven
    /// changes, so typing a search does not fill the history.
    fn set_filter(&self, filter: Filter, replace: bool) {
        let live = self.query.with_untracked(|q| q.live);
        self.go(&console_url(&filter, None, live), replace);
    }

    /// Turns live mode on (newest first) or off, keeping the filter and open entry.
    pub fn set_live(&self, on: bool) {
        let (mut f, entry) = self
            .query
            .with_untracked(|q| (q.filter_or_default(), q.entry));
        if on {
            f.order = Order::Desc;
        }
        self.go(&console_url(&f, entry, on), false);
    }

    /// Changes the filter with `change`, starting from the one on screen now: every control
    /// that changes the filter goes through here, so none acts on an older copy.
    pub fn update_filter(&self, change: impl FnOnce(&mut Filter)) {
        self.update_filter_with(change, false);
    }

    /// As [`update_filter`](Self::update_filter); `replace` for keystroke-driven changes.
    pub fn update_filter_with(&self, change: impl FnOnce(&mut Filter), replace: bool) {
        let mut f = self.filter_untracked();
        change(&mut f);
        if f != self.filter_untracked() {
            self.set_filter(f, replace);
        }
    }

    /// As [`update_filter`](Self::update_filter), with the open entry kept open: a value
    /// clicked in the detail panel, or a pivot to the entries around it. Back returns.
    pub fn update_filter_keeping_entry(&self, change: impl FnOnce(&mut Filter)) {
        let (mut f, entry, live) = self
            .query
            .with_untracked(|q| (q.filter_or_default(), q.entry, q.live));
        let before = f.clone();
        change(&mut f);
        if f != before {
            self.go(&console_url(&f, entry, live), false);
        }
    }

    /// Shows a saved search: its filter, named by `view=<id>` until the filter changes.
    /// `replace` when the URL named it alone (opening it, not a new step in the history).
    pub fn show_saved(&self, id: Uuid, filter: &Filter, replace: bool) {
        self.go(&saved_url(filter, id), replace);
    }

    pub fn open_entry(&self, id: Uuid) {
        let (f, live) = self
            .query
            .with_untracked(|q| (q.filter_or_default(), q.live));
        self.go(&console_url(&f, Some(id), live), false);
    }

    pub fn close_entry(&self) {
        let (f, live) = self
            .query
            .with_untracked(|q| (q.filter_or_default(), q.live));
        self.go(&console_url(&f, None, live), false);
    }

    fn go(&self, url: &str, replace: bool) {
        self.navigate.with_value(|n| n(url, replace));
    }
}

impl Default for ConsoleNav {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_urls_round_trip() {
        let id = Uuid::from_u128(7);
        let q = ConsoleQuery::parse(&format!("?user=a@b.c&action=config.*&entry={id}"));
        let f = q.filter.clone().unwrap();
        assert_eq!(q.entry, Some(id));
        assert_eq!(
            console_url(&f, q.entry, false),
            format!("/audit?action=config.*&user=a@b.c&entry={id}")
        );
        assert_eq!(console_url(&Filter::default(), None, false), "/audit");
        assert_eq!(console_url(&Filter::default(), None, true), "/audit?live=1");
        assert!(ConsoleQuery::parse("live=1&status=failure").live);
        // Live mode is newest first: an oldest-first link is not live.
        let asc = ConsoleQuery::parse("live=1&order=asc");
        assert!(!asc.live);
        assert_eq!(
            console_url(&asc.filter.unwrap(), None, true),
            "/audit?order=asc"
        );
        assert_eq!(
            ConsoleQuery::parse("live=yes").filter.unwrap_err().param,
            "live"
        );
        assert_eq!(
            ConsoleQuery::parse("entry=nope").filter.unwrap_err().param,
            "entry"
        );
        assert_eq!(
            ConsoleQuery::parse("range=2w").filter.unwrap_err().param,
            "range"
        );
    }

    #[test]
    fn a_bad_link_keeps_its_valid_parameters() {
        let q = ConsoleQuery::parse("user=grace&range=2w&action=config.*");
        assert_eq!(q.filter.unwrap_err().param, "range");
        assert_eq!(
            q.recovery.as_deref(),
            Some("/audit?action=config.*&user=grace")
        );
        // Several bad ones: each dropped, the good ones kept.
        let q = ConsoleQuery::parse("status=maybe&user=grace&ip=300.1.1.1&live=1");
        assert_eq!(q.recovery.as_deref(), Some("/audit?user=grace&live=1"));
        // A bad value among good ones of a repeatable parameter drops that parameter.
        let q = ConsoleQuery::parse("action=config.*&action=BAD!&status=failure");
        assert_eq!(q.recovery.as_deref(), Some("/audit?status=failure"));
        // Nothing usable left: no recovery beyond the whole log.
        assert_eq!(ConsoleQuery::parse("range=2w").recovery, None);
        // A good link has none.
        assert_eq!(ConsoleQuery::parse("user=grace").recovery, None);
    }
}
