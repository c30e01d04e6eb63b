//! The one `Filter`: the console URL, the API query, the export request and the live
//! subscription are all this type in its canonical query-string form.
//!
//! Repeatable parameters (`user`, `action`) combine with OR inside the parameter; different
//! parameters combine with AND. The `not_*` parameters ([`Exclusions`]) drop every entry that
//! matches any of their values; an entry without the field (no IP, no resource) is never dropped
//! by them. `Filter::parse(&f.to_query_string()) == Ok(f)` for every filter,
//! and equal filters have equal strings (values sorted and normalised).

use std::{fmt, net::IpAddr};

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::action::ActionPattern;
use crate::model::{AuditEntry, Source, Status, TopField};

pub mod params;
pub mod search;
pub use params::FilterQuery;

/// More values than this in one parameter is refused.
pub const MAX_VALUES: usize = 50;
pub const MAX_VALUE_LEN: usize = 256;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Matches actor id, actor email (case-insensitively) or actor name, exactly.
    pub users: Vec<String>,
    pub actions: Vec<ActionPattern>,
    pub time: TimeWindow,
    /// IANA time zone for dates; `None` is UTC.
    pub tz: Option<String>,
    /// Free text, case-insensitive substring.
    pub q: Option<String>,
    pub resource: Option<ResourcePattern>,
    pub status: Option<Status>,
    pub ip: Option<IpBlock>,
    /// Who recorded the entry: `trailkeep`, or an API key's id.
    pub source: Option<Source>,
    /// What is left out, whatever else matches (`not_action=user.login`).
    pub exclude: Exclusions,
    pub order: Order,
}

/// The values a filter leaves out: an entry matching any one of them is not shown. Each list is
/// sorted and without duplicates (the canonical form).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusions {
    /// Actors, matched as `Filter::users` matches them.
    pub users: Vec<String>,
    pub actions: Vec<ActionPattern>,
    pub resources: Vec<ResourcePattern>,
    pub ips: Vec<IpBlock>,
    pub sources: Vec<Source>,
}

/// One excluded value: what an inverted chip holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Exclusion {
    User(String),
    Action(ActionPattern),
    Resource(ResourcePattern),
    Ip(IpBlock),
    Source(Source),
}

impl Exclusions {
    pub fn is_empty(&self) -> bool {
        *self == Exclusions::default()
    }

    /// Every excluded value, in the order of the query string.
    pub fn iter(&self) -> impl Iterator<Item = Exclusion> + '_ {
        let actions = self.actions.iter().cloned().map(Exclusion::Action);
        let ips = self.ips.iter().copied().map(Exclusion::Ip);
        let resources = self.resources.iter().cloned().map(Exclusion::Resource);
        let sources = self.sources.iter().copied().map(Exclusion::Source);
        let users = self.users.iter().cloned().map(Exclusion::User);
        actions
            .chain(ips)
            .chain(resources)
            .chain(sources)
            .chain(users)
    }

    /// Adds `x` (kept canonical: sorted, no duplicate).
    pub fn insert(&mut self, x: Exclusion) {
        match x {
            Exclusion::User(u) => self.users.push(u),
            Exclusion::Action(a) => self.actions.push(a),
            Exclusion::Resource(r) => self.resources.push(r),
            Exclusion::Ip(ip) => self.ips.push(ip),
            Exclusion::Source(s) => self.sources.push(s),
        }
        self.normalise();
    }

    /// Removes `x` if it is there.
    pub fn remove(&mut self, x: &Exclusion) {
        match x {
            Exclusion::User(u) => self.users.retain(|v| v != u),
            Exclusion::Action(a) => self.actions.retain(|v| v != a),
            Exclusion::Resource(r) => self.resources.retain(|v| v != r),
            Exclusion::Ip(ip) => self.ips.retain(|v| v != ip),
            Exclusion::Source(s) => self.sources.retain(|v| v != s),
        }
    }

    pub fn contains(&self, x: &Exclusion) -> bool {
        match x {
            Exclusion::User(u) => self.users.contains(u),
            Exclusion::Action(a) => self.actions.contains(a),
            Exclusion::Resource(r) => self.resources.contains(r),
            Exclusion::Ip(ip) => self.ips.contains(ip),
            Exclusion::Source(s) => self.sources.contains(s),
        }
    }

    /// Sorted (by the written value) and deduplicated.
    pub fn normalise(&mut self) {
        self.users.sort();
        self.users.dedup();
        self.actions.sort();
        self.actions.dedup();
        self.resources.sort_by_key(|r| r.to_string());
        self.resources.dedup();
        self.ips.sort_by_key(|ip| ip.to_string());
        self.ips.dedup();
        self.sources.sort_by_key(|s| s.to_string());
        self.sources.dedup();
    }
}

/// A preset back from now; its serde names are the `range` values of the query string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum RelativeRange {
    #[serde(rename = "15m")]
    Minutes15,
    #[serde(rename = "1h")]
    Hour1,
    #[serde(rename = "24h")]
    Hours24,
    #[serde(rename = "7d")]
    Days7,
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "90d")]
    Days90,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeBound {
    /// An instant (from: inclusive, to: exclusive).
    Instant(DateTime<Utc>),
    /// A calendar day in the filter's `tz` (from: its start, to: its end, inclusive).
    Date(NaiveDate),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeWindow {
    #[default]
    All,
    Last(RelativeRange),
    Between {
        from: Option<TimeBound>,
        to: Option<TimeBound>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourcePattern {
    /// `type:id`
    Exact { kind: String, id: String },
    /// `type:*`
    AnyOfType(String),
    /// a bare id, any type
    AnyType(String),
}

/// An address, or a CIDR block (stored with its host bits cleared).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IpBlock {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// The order of the rows; its serde names are the `order` values of the query string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Newest first.
    #[default]
    Desc,
    /// Chronological, for incident timelines.
    Asc,
}

/// A refused filter: which parameter, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterError {
    pub param: String,
    pub message: String,
}

impl FilterError {
    pub fn new(param: &str, message: impl Into<String>) -> Self {
        FilterError {
            param: param.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.param, self.message)
    }
}

impl std::error::Error for FilterError {}

impl TimeWindow {
    /// A window that moves with the clock (`range=7d`).
    pub fn is_relative(&self) -> bool {
        matches!(self, TimeWindow::Last(_))
    }
}

impl RelativeRange {
    pub const ALL: [RelativeRange; 6] = [
        RelativeRange::Minutes15,
        RelativeRange::Hour1,
        RelativeRange::Hours24,
        RelativeRange::Days7,
        RelativeRange::Days30,
        RelativeRange::Days90,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RelativeRange::Minutes15 => "15m",
            RelativeRange::Hour1 => "1h",
            RelativeRange::Hours24 => "24h",
            RelativeRange::Days7 => "7d",
            RelativeRange::Days30 => "30d",
            RelativeRange::Days90 => "90d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RelativeRange::Minutes15 => "Last 15 minutes",
            RelativeRange::Hour1 => "Last hour",
            RelativeRange::Hours24 => "Last 24 hours",
            RelativeRange::Days7 => "Last 7 days",
            RelativeRange::Days30 => "Last 30 days",
            RelativeRange::Days90 => "Last 90 days",
        }
    }

    pub fn duration(self) -> chrono::Duration {
        match self {
            RelativeRange::Minutes15 => chrono::Duration::minutes(15),
            RelativeRange::Hour1 => chrono::Duration::hours(1),
            RelativeRange::Hours24 => chrono::Duration::hours(24),
            RelativeRange::Days7 => chrono::Duration::days(7),
            RelativeRange::Days30 => chrono::Duration::days(30),
            RelativeRange::Days90 => chrono::Duration::days(90),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl TimeBound {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 10 {
            return crate::time_zone::parse_date(s)
                .map(TimeBound::Date)
                .ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"));
        }
        let t = DateTime::parse_from_rfc3339(s)
            .map_err(|_| {
                format!("{s:?} is not an RFC 3339 instant (2026-11-25T10:00:00Z) or a date (2026-11-25)")
            })?
            .with_timezone(&Utc);
        if t.nanosecond() % 1_000 != 0 {
            return Err(format!("{s:?}: at most microsecond precision"));
        }
        Ok(TimeBound::Instant(t))
    }
}

impl fmt::Display for TimeBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeBound::Date(d) => f.write_str(&crate::format::date_string(*d)),
            TimeBound::Instant(t) => f.write_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }
}

impl ResourcePattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None => Ok(ResourcePattern::AnyType(s.to_string())),
            Some(("", _)) => Err(format!(
                "{s:?}: give the type before ':' (type:id, type:* or a bare id)"
            )),
            Some((kind, "*")) => Ok(ResourcePattern::AnyOfType(kind.to_string())),
            Some((_, "")) => Err(format!("{s:?}: give the id after ':' (or * for any)")),
            Some((kind, id)) => Ok(ResourcePattern::Exact {
                kind: kind.to_string(),
                id: id.to_string(),
            }),
        }
    }

    /// Whether a resource matches: its type in any case (`Config` is `config`), its id exactly
    /// (ids are the platform's own, where case may matter). SQL compares `lower()` of both.
    pub fn matches(&self, kind: Option<&str>, id: Option<&str>) -> bool {
        let same_kind = |k: &str| kind.is_some_and(|kind| kind.to_lowercase() == k.to_lowercase());
        match self {
            ResourcePattern::Exact { kind: k, id: i } => same_kind(k) && id == Some(i),
            ResourcePattern::AnyOfType(k) => same_kind(k),
            ResourcePattern::AnyType(i) => id == Some(i),
        }
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourcePattern::Exact { kind, id } => write!(f, "{kind}:{id}"),
            ResourcePattern::AnyOfType(kind) => write!(f, "{kind}:*"),
            ResourcePattern::AnyType(id) => f.write_str(id),
        }
    }
}

impl IpBlock {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IP address or CIDR block");
        let (addr, prefix) = match s.split_once('/') {
            None => {
                let addr: IpAddr = s.parse().map_err(|_| bad())?;
                (addr, if addr.is_ipv4() { 32 } else { 128 })
            }
            Some((a, p)) => {
                let addr: IpAddr = a.parse().map_err(|_| bad())?;
                // Plain digits without a leading zero, as the document's pattern says.
                let plain = !p.is_empty()
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == "0" || !p.starts_with('0'));
                let prefix: u8 = plain
                    .then(|| p.parse().ok())
                    .flatten()
                    .filter(|p: &u8| *p <= if addr.is_ipv4() { 32 } else { 128 })
                    .ok_or_else(bad)?;
                (addr, prefix)
            }
        };
        Ok(IpBlock {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }

    fn full(&self) -> bool {
        self.prefix == if self.addr.is_ipv4() { 32 } else { 128 }
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.full() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl Order {
    pub const ALL: [Order; 2] = [Order::Desc, Order::Asc];

    pub fn as_str(self) -> &'static str {
        match self {
            Order::Desc => "desc",
            Order::Asc => "asc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// The parameters of the filter, in canonical (alphabetical) order.
pub const FILTER_PARAMS: [&str; 17] = [
    "action",
    "from",
    "ip",
    "not_action",
    "not_ip",
    "not_resource",
    "not_source",
    "not_user",
    "order",
    "q",
    "range",
    "resource",
    "source",
    "status",
    "to",
    "tz",
    "user",
];

fn valid_tz(tz: &str) -> bool {
    !tz.is_empty()
        && tz.len() <= 64
        && tz
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'+' | b'-'))
}

impl Filter {
    /// Parses a query string (without `?`). Parameters in `extra` are returned, not refused.
    ///
    /// Each value is read into [`FilterQuery`] (the type the OpenAPI document states), then
    /// [`FilterQuery::into_filter`] checks what holds across parameters.
    pub fn parse_with_extra(
        query: &str,
        extra: &[&str],
    ) -> Result<(Filter, Vec<(String, String)>), FilterError> {
        let mut params = FilterQuery::default();
        let mut others = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(raw_key)
                .ok_or_else(|| FilterError::new(raw_key, "is not valid percent-encoded UTF-8"))?;
            let value = percent_decode(raw_value)
                .ok_or_else(|| FilterError::new(&key, "is not valid percent-encoded UTF-8"))?;
            if extra.contains(&key.as_str()) {
                others.push((key, value));
                continue;
            }
            params.set(&key, &value, extra)?;
        }
        Ok((params.into_filter()?, others))
    }

    /// Parses a query string that holds only filter parameters.
    pub fn parse(query: &str) -> Result<Filter, FilterError> {
        Self::parse_with_extra(query, &[]).map(|(f, _)| f)
    }

    fn check_order_of_bounds(&self) -> Result<(), FilterError> {
        if let TimeWindow::Between {
            from: Some(from),
            to: Some(to),
        } = self.time
        {
            let inverted = match (from, to) {
                (TimeBound::Instant(a), TimeBound::Instant(b)) => a > b,
                (TimeBound::Date(a), TimeBound::Date(b)) => a > b,
                // A date's start lies within ±14 h of its UTC midnight, whatever the zone.
                (TimeBound::Date(a), TimeBound::Instant(b)) => {
                    a.and_hms_opt(0, 0, 0).unwrap().and_utc() - chrono::Duration::hours(14) > b
                }
                (TimeBound::Instant(a), TimeBound::Date(b)) => {
                    a > (b + chrono::Days::new(1))
                        .and_hms_opt(0, 0, 0)
                        .unwrap()
                        .and_utc()
                        + chrono::Duration::hours(14)
                }
            };
            if inverted {
                return Err(FilterError::new("to", "the range ends before it starts"));
            }
        }
        Ok(())
    }

    /// The canonical query string: parameters in alphabetical order, values sorted.
    pub fn to_query_string(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for a in &self.actions {
            pairs.push(("action", a.to_string()));
        }
        if let TimeWindow::Between { from: Some(b), .. } = self.time {
            pairs.push(("from", b.to_string()));
        }
        if let Some(ip) = &self.ip {
            pairs.push(("ip", ip.to_string()));
        }
        for x in self.exclude.iter() {
            pairs.push(match x {
                Exclusion::Action(a) => ("not_action", a.to_string()),
                Exclusion::Ip(ip) => ("not_ip", ip.to_string()),
                Exclusion::Resource(r) => ("not_resource", r.to_string()),
                Exclusion::Source(s) => ("not_source", s.to_string()),
                Exclusion::User(u) => ("not_user", u),
            });
        }
        if self.order == Order::Asc {
            pairs.push(("order", "asc".into()));
        }
        if let Some(q) = &self.q {
            pairs.push(("q", q.clone()));
        }
        if let TimeWindow::Last(r) = self.time {
            pairs.push(("range", r.as_str().into()));
        }
        if let Some(r) = &self.resource {
            pairs.push(("resource", r.to_string()));
        }
        if let Some(source) = self.source {
            pairs.push(("source", source.to_string()));
        }
        if let Some(s) = self.status {
            pairs.push(("status", s.as_str().into()));
        }
        if let TimeWindow::Between { to: Some(b), .. } = self.time {
            pairs.push(("to", b.to_string()));
        }
        if let Some(tz) = &self.tz {
            pairs.push(("tz", tz.clone()));
        }
        for u in &self.users {
            pairs.push(("user", u.clone()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The same filter with a relative range (`range=7d`) turned into the instants it means at
    /// `now`: a link that shows a colleague the same window tomorrow. Other windows are kept.
    pub fn with_exact_times(&self, now: DateTime<Utc>) -> Filter {
        let mut f = self.clone();
        if let TimeWindow::Last(r) = f.time {
            // Whole milliseconds: what the browser's clock has.
            let to = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
            f.time = TimeWindow::Between {
                from: Some(TimeBound::Instant(to - r.duration())),
                to: Some(TimeBound::Instant(to)),
            };
        }
        f
    }

    /// Whether nothing narrows the log (every entry matches).
    pub fn is_everything(&self) -> bool {
        Filter {
            order: Order::Desc,
            tz: None,
            ..self.clone()
        } == Filter::default()
    }
}

/// A filter in its canonical query-string form, as it travels between the browser and the
/// server (server functions, the live socket, export links). Made only from a [`Filter`]; what
/// arrives at the server is parsed again like any URL, so a hand-made one gains nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CanonicalFilter(String);

impl CanonicalFilter {
    /// The query string (no `?`), empty for the whole log.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The filter it names, checked as any query string is.
    pub fn parse(&self) -> Result<Filter, FilterError> {
        Filter::parse(&self.0)
    }

    /// A query string read back from the server's own store (a saved search): kept as it is,
    /// and, like any other, parsed again where it is used.
    pub fn from_stored(query: String) -> Self {
        CanonicalFilter(query)
    }
}

impl From<&Filter> for CanonicalFilter {
    fn from(f: &Filter) -> Self {
        CanonicalFilter(f.to_query_string())
    }
}

impl fmt::Display for CanonicalFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A saved search as a reader sees it: their own, or one shared with every reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSearch {
    pub id: Uuid,
    pub name: String,
    /// The filter, canonical (parsed again whenever it is used).
    pub filter: CanonicalFilter,
    pub shared: bool,
    /// Who saved it (their display name).
    pub owner_name: String,
    /// Whether the reader saved it (and so may delete it).
    pub mine: bool,
}

impl Exclusion {
    /// The values of an entry a click can filter by or leave out, `(what it is, the value)`:
    /// its user, IP, resource, source and action (those it has).
    pub fn values_of(e: &AuditEntry) -> Vec<(&'static str, Exclusion)> {
        let mut out = vec![(
            "user",
            Exclusion::User(e.actor.email.clone().unwrap_or_else(|| e.actor.id.clone())),
        )];
        if let Some(ip) = e.ip.as_deref().and_then(|ip| IpBlock::parse(ip).ok()) {
            out.push(("IP", Exclusion::Ip(ip)));
        }
        if let Some(r) = &e.resource {
            out.push((
                "resource",
                Exclusion::Resource(ResourcePattern::Exact {
                    kind: r.kind.clone(),
                    id: r.id.clone(),
                }),
            ));
        }
        if let Some(source) = e.source {
            out.push(("source", Exclusion::Source(source)));
        }
        if let Ok(action) = ActionPattern::parse(&e.action) {
            out.push(("action", Exclusion::Action(action)));
        }
        out
    }

    /// A value of a "Top values" field as an exclusion holds it (`None` if it cannot be one).
    pub fn of(field: TopField, value: &str) -> Option<Self> {
        Some(match field {
            TopField::User => Exclusion::User(value.to_string()),
            TopField::Action => Exclusion::Action(ActionPattern::parse(value).ok()?),
            TopField::Resource => Exclusion::Resource(ResourcePattern::parse(value).ok()?),
            TopField::Ip => Exclusion::Ip(IpBlock::parse(value).ok()?),
        })
    }
}

/// Percent-encodes a query value; keeps what reads well in a URL (`*`, `:`, `@`, `/`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'*'
            | b':'
            | b'@'
            | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XX` and `+` (as a space). `None` for bad escapes or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_times_fix_a_relative_range_and_keep_the_rest() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let f = Filter::parse("range=7d&status=failure").unwrap();
        assert_eq!(
            f.with_exact_times(now).to_query_string(),
            "from=2026-11-18T10:00:00.123Z&status=failure&to=2026-11-25T10:00:00.123Z"
        );
        let dated = Filter::parse("from=2026-11-01&user=grace").unwrap();
        assert_eq!(dated.with_exact_times(now), dated);
    }

    #[test]
    fn tutorial_examples_parse() {
        let f = Filter::parse("action=config.*&user=admin@company.com&range=7d").unwrap();
        assert_eq!(f.actions, vec![ActionPattern::Under("config".into())]);
        assert_eq!(f.users, vec!["admin@company.com".to_string()]);
        assert_eq!(f.time, TimeWindow::Last(RelativeRange::Days7));
        assert_eq!(
            f.to_query_string(),
            "action=config.*&range=7d&user=admin@company.com"
        );
        let f = Filter::parse("action=key.*&from=2026-01-01&to=2026-03-31").unwrap();
        assert_eq!(
            f.time,
            TimeWindow::Between {
                from: Some(TimeBound::Date(
                    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
                )),
                to: Some(TimeBound::Date(
                    NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()
                )),
            }
        );
    }

    #[test]
    fn canonical_form_is_sorted_and_normalised() {
        let a = Filter::parse("user=b&user=a&user=b&action=user.login&tz=UTC&q=+x+&ip=10.1.2.3/8")
            .unwrap();
        let b = Filter::parse("ip=10.0.0.0/8&q=x&action=user.login&user=a&user=b").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.to_query_string(),
            "action=user.login&ip=10.0.0.0/8&q=x&user=a&user=b"
        );
        let t = Filter::parse("from=2026-11-25T12:00:00%2B02:00").unwrap();
        assert_eq!(t.to_query_string(), "from=2026-11-25T10:00:00Z");
    }

    #[test]
    fn errors_name_the_parameter() {
        for (query, param) in [
            ("nope=1", "nope"),
            ("action=escalation.res*", "action"),
            ("action=config", "action"),
            ("action=Config.x", "action"),
            ("from=yesterday", "from"),
            ("to=2026-13-01", "to"),
            ("range=2d", "range"),
            ("range=7d&from=2026-01-01", "range"),
            ("from=2026-03-02&to=2026-03-01", "to"),
            ("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to"),
            ("status=ok", "status"),
            ("source=Trailkeep", "source"),
            ("source=key", "source"),
            ("source=trailkeep&source=trailkeep", "source"),
            ("ip=10.0.0.0/33", "ip"),
            ("ip=host", "ip"),
            ("order=up", "order"),
            ("resource=:x", "resource"),
            ("resource=config:", "resource"),
            ("tz=Europe/Ber%20lin", "tz"),
            ("status=success&status=failure", "status"),
            ("user=", "user"),
            ("q=%ZZ", "q"),
            ("from=2026-11-25T10:00:00.0000001Z", "from"),
        ] {
            let err = Filter::parse(query).expect_err(query);
            assert_eq!(err.param, param, "{query}: {err}");
        }
        let many = (0..51)
            .map(|i| format!("user=u{i}"))
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(Filter::parse(&many).unwrap_err().param, "user");
    }

    #[test]
    fn extra_parameters_are_returned() {
        let (f, extra) =
            Filter::parse_with_extra("limit=5&status=failure&cursor=abc", &["limit", "cursor"])
                .unwrap();
        assert_eq!(f.status, Some(Status::Failure));
        assert_eq!(
            extra,
            vec![
                ("limit".into(), "5".into()),
                ("cursor".into(), "abc".into())
            ]
        );
    }

    #[test]
    fn patterns_match() {
        let block = IpBlock::parse("2001:db8::/32").unwrap();
        assert!(block.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!block.contains("2001:db9::1".parse().unwrap()));
        assert!(!IpBlock::parse("0.0.0.0/0")
            .unwrap()
            .contains("::1".parse().unwrap()));
        let r = ResourcePattern::parse("config:cfg:7").unwrap();
        assert!(r.matches(Some("config"), Some("cfg:7")));
    }
}
