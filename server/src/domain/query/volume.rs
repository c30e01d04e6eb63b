//! The chart's buckets: how wide, from the span the chart covers, so that a window holds at
//! most [`MAX_BUCKETS`] of a size people read (a minute, an hour, a day…). Pure: the grouping
//! itself is `storage::query::volume`, which reads whole hours from a rollup (migrations 0017
//! and 0020) when [`rollup_for`] finds one for the filter and [`whole_hours`] finds some in the
//! window.

use app::filter::{Exclusions, Filter};
use app::model::TopField;
use chrono::{DateTime, Duration, DurationRound, Utc};

use super::window::Bounds;

/// Fewer bars than this are readable at 768 px.
pub const MAX_BUCKETS: i64 = 60;

/// The bucket sizes, in seconds, smallest first.
const SIZES: [i64; 12] = [
    60,
    5 * 60,
    15 * 60,
    30 * 60,
    3_600,
    3 * 3_600,
    6 * 3_600,
    12 * 3_600,
    86_400,
    7 * 86_400,
    30 * 86_400,
    365 * 86_400,
];

/// The smallest size that covers `from..to` in at most [`MAX_BUCKETS`] buckets (the largest
/// when none does).
pub fn bucket_seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let span = (to - from).num_seconds().max(1);
    SIZES
        .into_iter()
        .find(|s| (span + s - 1) / s <= MAX_BUCKETS)
        .unwrap_or(SIZES[SIZES.len() - 1])
}

/// The buckets' origin: a Monday at midnight UTC, so days and weeks start where people expect.
pub fn origin() -> DateTime<Utc> {
    DateTime::from_timestamp(978_307_200, 0).expect("2001-01-01T00:00:00Z")
}

/// The start of the bucket holding `t`.
pub fn bucket_start(t: DateTime<Utc>, size: i64) -> DateTime<Utc> {
    let since = (t - origin()).num_seconds();
    origin() + Duration::seconds(since.div_euclid(size) * size)
}

/// The hourly rollup that counts the entries of a filter (migrations/0017_volume_rollups.sql
/// and 0020_resource_and_ip_rollups.sql): each keeps the hour, status and source of every
/// entry, and one field more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollup {
    /// `volume_actions`: by action.
    Actions,
    /// `volume_actors`: by actor (id, name and email).
    Actors,
    /// `volume_resources`: by resource (type and id).
    Resources,
    /// `volume_ips`: by address.
    Ips,
}

impl Rollup {
    /// Every rollup, the one read first when several keep a filter first (the fewest rows an
    /// hour: a few per action).
    pub const ALL: [Rollup; 4] = [
        Rollup::Actions,
        Rollup::Actors,
        Rollup::Ips,
        Rollup::Resources,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Rollup::Actions => "volume_actions",
            Rollup::Actors => "volume_actors",
            Rollup::Resources => "volume_resources",
            Rollup::Ips => "volume_ips",
        }
    }

    /// Whether the rollup keeps every field `f` names: each keeps the time, status and source,
    /// and its own field (included or excluded); none keeps the text. Every field is named, so
    /// a new one must be decided here.
    pub fn keeps(self, f: &Filter) -> bool {
        let Filter {
            users,
            actions,
            time: _,
            tz: _,
            q,
            resource,
            status: _,
            ip,
            source: _,
            exclude:
                Exclusions {
                    users: not_users,
                    actions: not_actions,
                    resources: not_resources,
                    ips: not_ips,
                    sources: _,
                },
            order: _,
        } = f;
        // Which rollup's own field each named field is.
        let named = [
            (Rollup::Actors, !users.is_empty() || !not_users.is_empty()),
            (
                Rollup::Actions,
                !actions.is_empty() || !not_actions.is_empty(),
            ),
            (
                Rollup::Resources,
                resource.is_some() || !not_resources.is_empty(),
            ),
            (Rollup::Ips, ip.is_some() || !not_ips.is_empty()),
        ];
        q.is_none() && named.iter().all(|&(own, named)| own == self || !named)
    }

    /// The rollup whose rows are told apart by `field` (Top values of that field read it when
    /// it [keeps](Rollup::keeps) the filter).
    pub fn holding(field: TopField) -> Rollup {
        match field {
            TopField::User => Rollup::Actors,
            TopField::Action => Rollup::Actions,
            TopField::Resource => Rollup::Resources,
            TopField::Ip => Rollup::Ips,
        }
    }
}

/// The rollup that keeps every field `f` names, if one does.
pub fn rollup_for(f: &Filter) -> Option<Rollup> {
    Rollup::ALL.into_iter().find(|r| r.keeps(f))
}

/// Whole UTC hours inside a window: `start..end` as bounds, each on the hour (open where the
/// window is, so the hours reach as far as the log), or `None` when no whole hour fits. What lies
/// outside them (`from..start`, `end..to`) is counted from the log itself.
pub fn hours_within(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<Bounds> {
    units_within(from, to, Duration::hours(1))
}

/// Whole `unit`s (UTC hours or days) inside a window, as [`hours_within`] says of hours.
pub(super) fn units_within(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    unit: Duration,
) -> Option<Bounds> {
    let floor = |t: DateTime<Utc>| t.duration_trunc(unit).ok();
    let start = match from {
        Some(from) => Some(floor(from).map(|f| if f < from { f + unit } else { f })?),
        None => None,
    };
    let end = match to {
        Some(to) => Some(floor(to)?),
        None => None,
    };
    match (start, end) {
        (Some(s), Some(e)) if s >= e => None,
        (from, to) => Some(Bounds { from, to }),
    }
}

/// The whole UTC hours inside `from..to` when buckets of `size` seconds are made of whole
/// hours (every size from an hour up is, and hours are aligned to the origin), or `None` when
/// no whole hour fits (or buckets are shorter).
pub fn whole_hours(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    size: i64,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if size % 3_600 != 0 {
        return None;
    }
    match hours_within(Some(from), Some(to))? {
        Bounds {
            from: Some(start),
            to: Some(end),
        } => Some((start, end)),
        _ => None,
    }
}

/// What a volume memo (migrations/0036_volume_memos.sql) is for: the chart of a filter no
/// rollup keeps, over a long window, counted once and then kept up with what is appended.
#[derive(Clone, Copy, Debug)]
pub struct MemoPolicy {
    /// A window at least this long (or open) builds a memo when none is kept; a shorter one is
    /// counted from the log (a few hours of even a common word are quick), though it reads a
    /// memo that is kept.
    pub min_span: Duration,
    /// The memo is brought up to the head once this many entries were appended after it (the
    /// chart counts them from the log each time until then).
    pub refresh_after: i64,
    /// At most this many memos are kept; the oldest built are dropped first.
    pub cap: i64,
}

impl MemoPolicy {
    pub const DEFAULT: MemoPolicy = MemoPolicy {
        min_span: Duration::days(7),
        refresh_after: 20_000,
        cap: 100,
    };

    /// Whether a chart of `from..to` (`None`: open) is worth building a memo for.
    pub fn worth_building(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
        match (from, to) {
            (Some(from), Some(to)) => to - from >= self.min_span,
            _ => true,
        }
    }
}

/// Bumped whenever what a filter matches changes, so that no memo of the old meaning is read.
const MEMO_VERSION: &str = "volume-memo 1";

/// The key of `f`'s memo: its canonical form without the window (time, zone and order do not
/// change which entries match, only which of them a chart shows).
pub fn memo_key(f: &Filter) -> [u8; 32] {
    filter_key(MEMO_VERSION, f)
}

/// SHA-256 of `version` and `f`'s canonical form without its window: the key under which a
/// memo of what `f` matches is kept (a chart's, Top values').
pub(super) fn filter_key(version: &str, f: &Filter) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let matching = Filter {
        time: Default::default(),
        tz: None,
        order: Default::default(),
        ..f.clone()
    };
    let mut h = Sha256::new();
    h.update(version.as_bytes());
    h.update(b"\n");
    h.update(matching.to_query_string().as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_span() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let from = t("2026-11-25T10:00:00Z");
        assert_eq!(bucket_seconds(from, from + Duration::minutes(15)), 60);
        assert_eq!(bucket_seconds(from, from + Duration::hours(1)), 60);
        assert_eq!(bucket_seconds(from, from + Duration::hours(24)), 30 * 60);
        assert_eq!(bucket_seconds(from, from + Duration::days(7)), 3 * 3_600);
        assert_eq!(bucket_seconds(from, from + Duration::days(30)), 86_400 / 2);
        assert_eq!(bucket_seconds(from, from + Duration::days(90)), 7 * 86_400);
        assert_eq!(
            bucket_seconds(from, from + Duration::days(3650)),
            365 * 86_400
        );
        // Origin: a Monday; a day's bucket starts at midnight UTC.
        assert_eq!(origin().format("%A").to_string(), "Monday");
        assert_eq!(
            bucket_start(t("2026-11-25T13:07:00Z"), 86_400),
            t("2026-11-25T00:00:00Z")
        );
        assert_eq!(
            bucket_start(t("1999-12-31T23:59:59Z"), 3_600),
            t("1999-12-31T23:00:00Z")
        );
    }

    #[test]
    fn whole_hours_lie_inside_the_window_on_the_hour() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let cases = [
            // (from, to, size, expected)
            (
                "2026-11-25T10:17:00Z",
                "2026-11-27T03:41:30Z",
                3_600,
                Some(("2026-11-25T11:00:00Z", "2026-11-27T03:00:00Z")),
            ),
            (
                "2026-11-25T10:00:00Z",
                "2026-11-25T12:00:00Z",
                3_600,
                Some(("2026-11-25T10:00:00Z", "2026-11-25T12:00:00Z")),
            ),
            (
                "2026-11-25T10:00:00.000001Z",
                "2026-11-25T11:59:59Z",
                3_600,
                None,
            ),
            ("2026-11-25T10:30:00Z", "2026-11-25T11:30:00Z", 3_600, None),
            (
                "2026-10-01T10:17:00Z",
                "2026-11-10T03:41:30Z",
                86_400,
                Some(("2026-10-01T11:00:00Z", "2026-11-10T03:00:00Z")),
            ),
            // Buckets shorter than an hour: never from the rollup.
            (
                "2026-11-25T10:00:00Z",
                "2026-11-25T22:00:00Z",
                30 * 60,
                None,
            ),
        ];
        for (from, to, size, want) in cases {
            assert_eq!(
                whole_hours(t(from), t(to), size),
                want.map(|(a, b)| (t(a), t(b))),
                "{from}..{to} by {size}"
            );
        }
    }

    #[test]
    fn the_rollup_that_keeps_every_named_field_counts() {
        let rollup = |q: &str| rollup_for(&Filter::parse(q).unwrap());
        for (q, want) in [
            ("", Some(Rollup::Actions)),
            (
                "action=config.*&status=failure&range=7d",
                Some(Rollup::Actions),
            ),
            (
                "not_action=user.*&source=trailkeep&not_source=trailkeep",
                Some(Rollup::Actions),
            ),
            (
                "from=2026-01-01&to=2026-02-01&tz=Europe/Paris&order=asc",
                Some(Rollup::Actions),
            ),
            (
                "user=grace@company.com&status=failure",
                Some(Rollup::Actors),
            ),
            ("not_user=u_1&range=30d", Some(Rollup::Actors)),
            ("user=grace@company.com&action=config.*", None),
            ("not_user=u_1&not_action=user.login", None),
            ("q=production", None),
            ("q=production&status=failure", None),
            ("resource=cfg_7", Some(Rollup::Resources)),
            (
                "resource=config:*&range=7d&status=failure",
                Some(Rollup::Resources),
            ),
            ("not_resource=cfg_7", Some(Rollup::Resources)),
            ("ip=10.0.0.0/8", Some(Rollup::Ips)),
            ("not_ip=10.0.0.1&source=trailkeep", Some(Rollup::Ips)),
            ("resource=cfg_7&ip=10.0.0.0/8", None),
            ("resource=cfg_7&user=grace@company.com", None),
            ("not_ip=10.0.0.1&action=config.*", None),
        ] {
            assert_eq!(rollup(q), want, "{q}");
        }
        let keeps = |r: Rollup, q: &str| r.keeps(&Filter::parse(q).unwrap());
        assert!(keeps(Rollup::Actors, "") && keeps(Rollup::Actors, "status=failure&range=7d"));
        assert!(!keeps(Rollup::Actors, "not_action=user.*"));
        assert!(!keeps(Rollup::Actions, "user=grace@company.com"));
        assert!(keeps(Rollup::Ips, "") && keeps(Rollup::Resources, "status=failure"));
        assert!(!keeps(Rollup::Ips, "resource=cfg_7") && !keeps(Rollup::Resources, "ip=10.0.0.1"));
        assert!(!keeps(Rollup::Ips, "q=10.0.0.1") && !keeps(Rollup::Resources, "q=cfg_7"));
    }

    #[test]
    fn hours_within_open_windows_reach_as_far_as_the_log() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let b = |from, to| Some(Bounds { from, to });
        assert_eq!(hours_within(None, None), b(None, None));
        assert_eq!(
            hours_within(Some(t("2026-11-25T10:17:00Z")), None),
            b(Some(t("2026-11-25T11:00:00Z")), None)
        );
        assert_eq!(
            hours_within(None, Some(t("2026-11-25T10:17:00Z"))),
            b(None, Some(t("2026-11-25T10:00:00Z")))
        );
        assert_eq!(
            hours_within(
                Some(t("2026-11-25T10:17:00Z")),
                Some(t("2026-11-25T10:59:00Z"))
            ),
            None
        );
    }
}
