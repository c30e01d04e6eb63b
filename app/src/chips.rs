//! The one place a `Filter` becomes words: its chips (what each one says) and the filter
//! without one of them.
//!
//! A chip is named by what it removes ([`ChipKey`]), never by a copy of the filter it was
//! drawn from: removing it is computed from the filter as it is at that moment
//! ([`Filter::without`]), so chips may be added and removed in any order. The console's chips,
//! the export dialog and the PDF report's cover all read the filter through [`chips`].

use chrono::{DateTime, Utc};

use crate::action::ActionPattern;
use crate::filter::{Exclusion, Filter, Order, TimeBound, TimeWindow};
use crate::format::{date_string, wall_string};
use crate::model::{ActionCategory, ActorFacet, KeyName, Source};
use crate::time_zone::to_wall_clock;

/// What a chip removes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChipKey {
    Search,
    User(String),
    /// One action pattern, or every pattern of a whole category.
    Actions(Vec<ActionPattern>),
    Time,
    Status,
    Resource,
    Ip,
    Source,
    Order,
    /// One value left out (`not_action=…`).
    Excluded(Exclusion),
}

/// One chip: what it says and what it removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chip {
    pub key: ChipKey,
    pub label: String,
}

/// What the words need besides the filter. Everything is optional: without it a chip still
/// says exactly what the filter holds, only less readably.
#[derive(Clone, Copy, Default)]
pub struct Words<'a> {
    /// The action categories: a whole category chosen reads as one chip ("Authentication").
    pub categories: &'a [ActionCategory],
    /// Actors by the filter value they are chosen with, for "Name <email>".
    pub actors: &'a [ActorFacet],
    /// The zone instants are shown in (`None`: UTC).
    pub zone: Option<&'a str>,
    /// API keys' names, for "Source: Billing".
    pub keys: &'a [KeyName],
}

impl Filter {
    /// This filter without what `key` names (values it no longer holds are left alone).
    pub fn without(&self, key: &ChipKey) -> Filter {
        let mut f = self.clone();
        match key {
            ChipKey::Search => f.q = None,
            ChipKey::User(u) => f.users.retain(|x| x != u),
            ChipKey::Actions(patterns) => f.actions.retain(|p| !patterns.contains(p)),
            ChipKey::Time => f.time = TimeWindow::All,
            ChipKey::Status => f.status = None,
            ChipKey::Resource => f.resource = None,
            ChipKey::Ip => f.ip = None,
            ChipKey::Source => f.source = None,
            ChipKey::Order => f.order = Order::Desc,
            ChipKey::Excluded(x) => f.exclude.remove(x),
        }
        f
    }

    /// This filter with the chip `key` turned around: a value shown becomes a value left out,
    /// a value left out becomes the value shown, and a status becomes the other one. `None`
    /// for what cannot be turned (search, time, order) and for a left-out value whose
    /// parameter already holds another value (`resource=` is one value).
    pub fn inverted(&self, key: &ChipKey) -> Option<Filter> {
        let mut f = self.clone();
        match key {
            ChipKey::Search | ChipKey::Time | ChipKey::Order => return None,
            ChipKey::User(u) => {
                f.users.retain(|x| x != u);
                f.exclude.insert(Exclusion::User(u.clone()));
            }
            ChipKey::Actions(patterns) => {
                f.actions.retain(|p| !patterns.contains(p));
                for p in patterns {
                    f.exclude.insert(Exclusion::Action(p.clone()));
                }
            }
            ChipKey::Status => f.status = Some(f.status?.other()),
            ChipKey::Resource => f.exclude.insert(Exclusion::Resource(f.resource.take()?)),
            ChipKey::Ip => f.exclude.insert(Exclusion::Ip(f.ip.take()?)),
            ChipKey::Source => f.exclude.insert(Exclusion::Source(f.source.take()?)),
            ChipKey::Excluded(x) => {
                match x.clone() {
                    Exclusion::User(u) => {
                        f.users.push(u);
                        f.users.sort();
                        f.users.dedup();
                    }
                    Exclusion::Action(a) => {
                        f.actions.push(a);
                        f.actions.sort();
                        f.actions.dedup();
                    }
                    Exclusion::Resource(r) if f.resource.is_none() => f.resource = Some(r),
                    Exclusion::Ip(ip) if f.ip.is_none() => f.ip = Some(ip),
                    Exclusion::Source(s) if f.source.is_none() => f.source = Some(s),
                    _ => return None,
                }
                f.exclude.remove(x);
            }
        }
        Some(f)
    }

    /// This filter showing only entries with `x` (`exclude: false`) or leaving them out
    /// (`exclude: true`): what clicking a value in a row or the detail panel does. Showing
    /// only `x` replaces a one-value parameter's value and drops `x` from what is left out.
    pub fn narrowed(&self, x: Exclusion, exclude: bool) -> Filter {
        let mut f = self.clone();
        if exclude {
            match &x {
                Exclusion::User(u) => f.users.retain(|v| v != u),
                Exclusion::Action(a) => f.actions.retain(|v| v != a),
                Exclusion::Resource(r) if f.resource.as_ref() == Some(r) => f.resource = None,
                Exclusion::Ip(ip) if f.ip.as_ref() == Some(ip) => f.ip = None,
                Exclusion::Source(s) if f.source.as_ref() == Some(s) => f.source = None,
                _ => {}
            }
            f.exclude.insert(x);
            return f;
        }
        f.exclude.remove(&x);
        match x {
            Exclusion::User(u) => f.users = vec![u],
            Exclusion::Action(a) => f.actions = vec![a],
            Exclusion::Resource(r) => f.resource = Some(r),
            Exclusion::Ip(ip) => f.ip = Some(ip),
            Exclusion::Source(s) => f.source = Some(s),
        }
        f
    }

    /// Everything cleared but the time-zone choice and the order (display preferences, not
    /// filters).
    pub fn cleared(&self) -> Filter {
        Filter {
            tz: self.tz.clone(),
            order: self.order,
            ..Filter::default()
        }
    }
}

/// A start as people read it, at the precision it has: `2026-11-25 14:03 UTC`,
/// `2026-11-25 14:03:07.250 Europe/Berlin`, or a whole day `2026-11-25`.
pub fn bound_label(b: &TimeBound, zone: Option<&str>) -> String {
    match b {
        TimeBound::Date(d) => date_string(*d),
        TimeBound::Instant(t) => format!(
            "{} {}",
            wall_string(to_wall_clock(t, zone)),
            zone.unwrap_or("UTC")
        ),
    }
}

/// An end as people read it: the last minute or second it includes (an end is exclusive: `to`
/// of 14:04:00 includes all of 14:03), or "before" an instant finer than a second.
pub fn end_label(b: &TimeBound, zone: Option<&str>) -> String {
    match b {
        TimeBound::Date(d) => date_string(*d),
        TimeBound::Instant(t) => {
            let zone_name = zone.unwrap_or("UTC");
            match inclusive_end(t) {
                Some(last) => format!("{} {zone_name}", wall_string(to_wall_clock(&last, zone))),
                None => format!("before {}", bound_label(b, zone)),
            }
        }
    }
}

/// The start of the last whole minute or second an exclusive end includes (`None` when the end
/// is finer than a second).
pub fn inclusive_end(t: &DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::Timelike;
    if t.nanosecond() != 0 {
        None
    } else if t.second() == 0 {
        Some(*t - chrono::Duration::minutes(1))
    } else {
        Some(*t - chrono::Duration::seconds(1))
    }
}

/// The time window in words: `Last 7 days`, `2026-01-01 → 2026-03-31`, `All time`.
pub fn window_label(w: &TimeWindow, zone: Option<&str>) -> String {
    match w {
        TimeWindow::All => "All time".to_string(),
        TimeWindow::Last(r) => r.label().to_string(),
        TimeWindow::Between { from, to } => match (from, to) {
            (Some(a), Some(b)) => format!("{} → {}", bound_label(a, zone), end_label(b, zone)),
            (Some(a), None) => format!("From {}", bound_label(a, zone)),
            (None, Some(b)) => format!("Until {}", end_label(b, zone)),
            (None, None) => "All time".to_string(),
        },
    }
}

/// `Avery Admin <admin@company.com>` for a chosen user value, or the value itself.
fn user_label(value: &str, actors: &[ActorFacet]) -> String {
    // The filter matches an actor by id, email (any case) or name.
    let known = actors.iter().find(|a| {
        a.id == value
            || a.name.as_deref() == Some(value)
            || a.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(value))
    });
    match known {
        Some(ActorFacet {
            name: Some(name),
            email: Some(email),
            ..
        }) => format!("{name} <{email}>"),
        Some(ActorFacet {
            name: Some(name),
            id,
            ..
        }) if name != value => format!("{name} ({id})"),
        _ => value.to_string(),
    }
}

/// The chips of a filter, in the order of the filter bar.
pub fn chips(f: &Filter, words: Words<'_>) -> Vec<Chip> {
    let mut out = Vec::new();
    let mut push = |key: ChipKey, label: String| out.push(Chip { key, label });
    if let Some(q) = &f.q {
        push(ChipKey::Search, format!("Search: \"{q}\""));
    }
    for u in &f.users {
        push(
            ChipKey::User(u.clone()),
            format!("User: {}", user_label(u, words.actors)),
        );
    }
    // A category chosen whole is one chip; what is left, one chip per pattern.
    let mut left: Vec<ActionPattern> = f.actions.clone();
    for c in words.categories {
        let patterns = c.patterns(words.categories);
        if patterns.len() > 1 && patterns.iter().all(|p| left.contains(p)) {
            left.retain(|p| !patterns.contains(p));
            push(ChipKey::Actions(patterns), format!("Action: {}", c.label()));
        }
    }
    for a in left {
        let label = format!("Action: {a}");
        push(ChipKey::Actions(vec![a]), label);
    }
    if f.time != TimeWindow::All {
        push(ChipKey::Time, window_label(&f.time, words.zone));
    }
    if let Some(s) = f.status {
        push(ChipKey::Status, format!("Status: {}", s.label()));
    }
    if let Some(r) = &f.resource {
        push(ChipKey::Resource, format!("Resource: {r}"));
    }
    if let Some(ip) = &f.ip {
        push(ChipKey::Ip, format!("IP: {ip}"));
    }
    if let Some(source) = f.source {
        push(
            ChipKey::Source,
            format!("Source: {}", source_name(source, words.keys)),
        );
    }
    for x in f.exclude.iter() {
        let label = match &x {
            Exclusion::User(u) => format!("Not user: {}", user_label(u, words.actors)),
            Exclusion::Action(a) => format!("Not action: {a}"),
            Exclusion::Resource(r) => format!("Not resource: {r}"),
            Exclusion::Ip(ip) => format!("Not IP: {ip}"),
            Exclusion::Source(s) => format!("Not source: {}", source_name(*s, words.keys)),
        };
        push(ChipKey::Excluded(x), label);
    }
    if f.order == Order::Asc {
        push(ChipKey::Order, "Oldest first".to_string());
    }
    out
}

/// A source by its key's name ("API key Billing") when the name is known, else in words.
pub fn source_name(source: Source, keys: &[KeyName]) -> String {
    match source {
        Source::Key(id) => match keys.iter().find(|k| k.id == id) {
            Some(k) => format!("API key {}", k.name),
            None => source_words(source),
        },
        Source::Trailkeep => source_words(source),
    }
}

/// A source in words: "Trailkeep", or "API key 0f8a2c1e…" (the id's first group).
pub fn source_words(source: Source) -> String {
    match source {
        Source::Trailkeep => "Trailkeep".into(),
        Source::Key(id) => format!("API key {}…", &id.to_string()[..8]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn categories() -> Vec<ActionCategory> {
        ActionCategory::group(
            [
                "2fa.enrolled",
                "config.created",
                "config.updated",
                "user.invited",
                "user.login",
                "user.login_failed",
                "user.logout",
            ]
            .iter()
            .map(|a| (a.to_string(), 1))
            .collect(),
        )
    }

    #[test]
    fn each_chip_removes_exactly_its_value() {
        let f = Filter::parse(
            "action=config.*&action=user.login&order=asc&q=deploy&range=7d&source=0f8a2c1e-5b7d-4e3f-9a6b-1c2d3e4f5a6b&status=failure&tz=Europe/Berlin&user=a@b.c",
        )
        .unwrap();
        let cs = chips(&f, Words::default());
        let labels: Vec<&str> = cs.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Search: \"deploy\"",
                "User: a@b.c",
                "Action: user.login",
                "Action: config.*",
                "Last 7 days",
                "Status: Failure",
                "Source: API key 0f8a2c1e…",
                "Oldest first"
            ]
        );
        assert_eq!(
            f.without(&cs[3].key).to_query_string(),
            "action=user.login&order=asc&q=deploy&range=7d&source=0f8a2c1e-5b7d-4e3f-9a6b-1c2d3e4f5a6b&status=failure&tz=Europe/Berlin&user=a@b.c"
        );
        assert_eq!(
            f.without(&cs[6].key).to_query_string(),
            "action=user.login&action=config.*&order=asc&q=deploy&range=7d&status=failure&tz=Europe/Berlin&user=a@b.c"
        );
        // Clear all keeps the display choices: the zone and the order.
        assert_eq!(f.cleared().to_query_string(), "order=asc&tz=Europe/Berlin");
    }

    /// The defect this module exists for: a chip drawn from an older filter, removed after
    /// other filters were added, must remove only itself.
    #[test]
    fn removing_in_any_order_keeps_the_other_filters() {
        let f = Filter::parse("action=user.login_failed&range=7d&status=failure").unwrap();
        let keys: Vec<ChipKey> = chips(&f, Words::default())
            .into_iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(keys.len(), 3);
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let mut now = f.clone();
            let mut removed = Vec::new();
            for i in order {
                now = now.without(&keys[i]);
                removed.push(i);
                // What remains is exactly the chips not removed yet.
                let remaining: Vec<ChipKey> = chips(&now, Words::default())
                    .into_iter()
                    .map(|c| c.key)
                    .collect();
                let want: Vec<ChipKey> = (0..3)
                    .filter(|j| !removed.contains(j))
                    .map(|j| keys[j].clone())
                    .collect();
                assert_eq!(remaining, want, "order {order:?}");
            }
            assert!(now.is_everything());
        }
    }

    #[test]
    fn a_whole_category_is_one_chip() {
        let cats = categories();
        let f = Filter::parse(
            "action=2fa.*&action=config.updated&action=user.login&action=user.login_failed&action=user.logout",
        )
        .unwrap();
        let words = Words {
            categories: &cats,
            ..Words::default()
        };
        let cs = chips(&f, words);
        let labels: Vec<&str> = cs.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["Action: Authentication", "Action: config.updated"]);
        assert_eq!(
            f.without(&cs[0].key).to_query_string(),
            "action=config.updated"
        );
        // Part of a category stays one chip per action.
        let part = Filter::parse("action=user.login&action=user.logout").unwrap();
        assert_eq!(chips(&part, words).len(), 2);
    }

    #[test]
    fn users_read_as_name_and_email() {
        let actors = [ActorFacet {
            actor_type: "user".into(),
            id: "u_1".into(),
            name: Some("Avery Admin".into()),
            email: Some("admin@company.com".into()),
            count: 3,
            unknown_sign_in: false,
        }];
        let f = Filter::parse("user=admin@company.com&user=someone").unwrap();
        let words = Words {
            actors: &actors,
            ..Words::default()
        };
        let labels: Vec<String> = chips(&f, words).into_iter().map(|c| c.label).collect();
        assert_eq!(
            labels,
            ["User: Avery Admin <admin@company.com>", "User: someone"]
        );
    }

    #[test]
    fn instants_read_in_the_zone_shown() {
        let f = Filter::parse("from=2026-01-01T00:00:00Z&to=2026-02-01").unwrap();
        assert_eq!(
            chips(&f, Words::default())[0].label,
            "2026-01-01 00:00 UTC → 2026-02-01"
        );
        // Seconds and milliseconds when the bounds have them (a ±15-minute context); an end
        // reads as the last minute or second it includes.
        let f = Filter::parse("from=2026-01-01T10:00:07.250Z&to=2026-01-01T10:30:07.250Z").unwrap();
        assert_eq!(
            chips(&f, Words::default())[0].label,
            "2026-01-01 10:00:07.250 UTC → before 2026-01-01 10:30:07.250 UTC"
        );
        let f = Filter::parse("from=2026-01-01T10:00:00Z&to=2026-01-01T10:04:00Z").unwrap();
        assert_eq!(
            chips(&f, Words::default())[0].label,
            "2026-01-01 10:00 UTC → 2026-01-01 10:03 UTC"
        );
        let f = Filter::parse("to=2026-01-01T10:04:05Z").unwrap();
        assert_eq!(
            chips(&f, Words::default())[0].label,
            "Until 2026-01-01 10:04:04 UTC"
        );
    }
}
