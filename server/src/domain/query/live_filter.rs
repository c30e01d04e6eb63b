//! Live matching: whether a freshly committed entry matches a filter, decided in memory so
//! that one read of new rows serves every live client. It must agree with the SQL of
//! `storage::query::conditions`; the `live_filter_agrees_with_sql` test holds the two together.

use app::filter::{search, Filter};
use app::model::AuditEntry;
use chrono::{DateTime, Utc};

use super::window::{self, Bounds};

/// A filter as a live stream applies it: its time window resolved once (dates read in its
/// zone), except `last=` windows, which move with the clock.
#[derive(Clone, Debug)]
pub struct LiveFilter {
    pub filter: Filter,
    bounds: Bounds,
    users_lower: Vec<String>,
    excluded_users_lower: Vec<String>,
    /// The search's terms (`app::filter::search`), lower-cased.
    terms_lower: Vec<String>,
}

impl LiveFilter {
    /// `filter` with its window resolved (`storage::query::live_filter`).
    pub fn new(filter: Filter, bounds: Bounds) -> Self {
        LiveFilter {
            users_lower: filter.users.iter().map(|u| u.to_lowercase()).collect(),
            excluded_users_lower: filter
                .exclude
                .users
                .iter()
                .map(|u| u.to_lowercase())
                .collect(),
            terms_lower: filter
                .q
                .as_deref()
                .map(search::terms)
                .unwrap_or_default()
                .into_iter()
                .map(str::to_lowercase)
                .collect(),
            bounds,
            filter,
        }
    }

    /// The window at `now`.
    pub fn bounds_at(&self, now: DateTime<Utc>) -> Bounds {
        window::moving(&self.filter, self.bounds, now)
    }

    /// Whether a freshly committed entry matches at `now`. `search_text` is the row's
    /// `audit_search_text(…)`, computed by PostgreSQL, so `q=` matches exactly as in SQL.
    pub fn matches(&self, entry: &AuditEntry, search_text: &str, now: DateTime<Utc>) -> bool {
        let f = &self.filter;
        let actor = &entry.actor;
        // Every rule and every live client asks this of every new entry: nothing is allocated
        // or parsed for a part of the filter that is not set.
        let is_one_of = |users: &[String], lower: &[String]| {
            !users.is_empty() && users.contains(&actor.id)
                || actor
                    .email
                    .as_ref()
                    .is_some_and(|e| !lower.is_empty() && lower.contains(&e.to_lowercase()))
                || actor.name.as_ref().is_some_and(|n| users.contains(n))
        };
        if !f.users.is_empty() && !is_one_of(&f.users, &self.users_lower) {
            return false;
        }
        if is_one_of(&f.exclude.users, &self.excluded_users_lower) {
            return false;
        }
        if !f.actions.is_empty() && !f.actions.iter().any(|a| a.matches(&entry.action)) {
            return false;
        }
        let b = self.bounds_at(now);
        if b.from.is_some_and(|from| entry.occurred_at < from)
            || b.to.is_some_and(|to| entry.occurred_at >= to)
        {
            return false;
        }
        // The search text separates fields with a character no term holds.
        if !self
            .terms_lower
            .iter()
            .all(|t| search_text.contains(t.as_str()))
        {
            return false;
        }
        let (kind, id) = match &entry.resource {
            Some(r) => (Some(r.kind.as_str()), Some(r.id.as_str())),
            None => (None, None),
        };
        if f.resource.as_ref().is_some_and(|r| !r.matches(kind, id)) {
            return false;
        }
        if f.status.is_some_and(|s| s != entry.status) {
            return false;
        }
        if f.source.is_some() && f.source != entry.source {
            return false;
        }
        let x = &f.exclude;
        let ip: Option<std::net::IpAddr> = (f.ip.is_some() || !x.ips.is_empty())
            .then(|| entry.ip.as_deref().and_then(|ip| ip.parse().ok()))
            .flatten();
        if f.ip
            .is_some_and(|block| !ip.is_some_and(|ip| block.contains(ip)))
        {
            return false;
        }
        // What is left out: an entry without the field is never left out.
        let left_out = x.actions.iter().any(|a| a.matches(&entry.action))
            || x.resources.iter().any(|r| r.matches(kind, id))
            || ip.is_some_and(|ip| x.ips.iter().any(|b| b.contains(ip)))
            || entry.source.is_some_and(|s| x.sources.contains(&s));
        !left_out
    }
}
