//! Property tests: every filter survives its canonical query string, and parsing never panics.

use app::action::ActionPattern;
use app::filter::{
    Exclusions, Filter, IpBlock, Order, RelativeRange, ResourcePattern, TimeBound, TimeWindow,
};
use app::model::{Source, Status};
use chrono::{DateTime, NaiveDate};
use proptest::prelude::*;

#[path = "support/seeded.rs"]
mod seeded;
use seeded::seeded;

/// Text as users type it: any characters but controls, no surrounding whitespace, not empty
/// (by construction: nothing generated is thrown away).
fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}\\s](?:[^\\p{Cc}]{0,38}[^\\p{Cc}\\s])?"
}

fn segment() -> impl Strategy<Value = String> {
    "[a-z0-9_]{1,8}"
}

fn action() -> impl Strategy<Value = ActionPattern> {
    prop_oneof![
        (segment(), prop::collection::vec(segment(), 1..3))
            .prop_map(|(a, rest)| ActionPattern::Exact(format!("{a}.{}", rest.join(".")))),
        prop::collection::vec(segment(), 1..3).prop_map(|s| ActionPattern::Under(s.join("."))),
    ]
}

fn instant() -> impl Strategy<Value = TimeBound> {
    (0i64..4_000_000_000, 0u32..1_000_000)
        .prop_map(|(s, us)| TimeBound::Instant(DateTime::from_timestamp(s, us * 1000).unwrap()))
}

fn date() -> impl Strategy<Value = TimeBound> {
    (1900i32..2100, 1u32..=12, 1u32..=28)
        .prop_map(|(y, m, d)| TimeBound::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap()))
}

fn time() -> impl Strategy<Value = TimeWindow> {
    prop_oneof![
        Just(TimeWindow::All),
        prop::sample::select(RelativeRange::ALL.to_vec()).prop_map(TimeWindow::Last),
        (prop::option::of(instant()), prop::option::of(instant())).prop_map(|(a, b)| {
            let (from, to) = match (a, b) {
                (Some(TimeBound::Instant(x)), Some(TimeBound::Instant(y))) if x > y => {
                    (Some(TimeBound::Instant(y)), Some(TimeBound::Instant(x)))
                }
                other => other,
            };
            between(from, to)
        }),
        (prop::option::of(date()), prop::option::of(date())).prop_map(|(a, b)| {
            let (from, to) = match (a, b) {
                (Some(TimeBound::Date(x)), Some(TimeBound::Date(y))) if x > y => {
                    (Some(TimeBound::Date(y)), Some(TimeBound::Date(x)))
                }
                other => other,
            };
            between(from, to)
        }),
    ]
}

/// No bounds at all is the whole log.
fn between(from: Option<TimeBound>, to: Option<TimeBound>) -> TimeWindow {
    if from.is_none() && to.is_none() {
        TimeWindow::All
    } else {
        TimeWindow::Between { from, to }
    }
}

fn resource() -> impl Strategy<Value = ResourcePattern> {
    let kind = "[^\\p{Cc}:\\s][^\\p{Cc}:]{0,10}[^\\p{Cc}:\\s]|[^\\p{Cc}:\\s]";
    let id = "[^\\p{Cc}\\s][^\\p{Cc}]{0,10}[^\\p{Cc}\\s]|[^\\p{Cc}\\s*]";
    // `id` is never `*` alone (that is `AnyOfType`): its one-character form leaves `*` out.
    prop_oneof![
        (kind, id).prop_map(|(kind, id)| ResourcePattern::Exact { kind, id }),
        kind.prop_map(ResourcePattern::AnyOfType),
        "[^\\p{Cc}:\\s]{1,12}".prop_map(ResourcePattern::AnyType),
    ]
}

fn ip() -> impl Strategy<Value = IpBlock> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, p)| IpBlock::parse(&format!(
            "{}/{p}",
            std::net::Ipv4Addr::from(a)
        ))
        .unwrap()),
        (any::<u128>(), 0u8..=128).prop_map(|(a, p)| IpBlock::parse(&format!(
            "{}/{p}",
            std::net::Ipv6Addr::from(a)
        ))
        .unwrap()),
    ]
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        Just(Source::Trailkeep),
        any::<u128>().prop_map(|n| Source::Key(uuid::Uuid::from_u128(n))),
    ]
}

/// Values left out, in canonical form (sorted, deduplicated: what `Filter::parse` yields).
fn exclusions() -> impl Strategy<Value = Exclusions> {
    (
        prop::collection::vec(text(), 0..3),
        prop::collection::vec(action(), 0..3),
        prop::collection::vec(resource(), 0..3),
        prop::collection::vec(ip(), 0..3),
        prop::collection::vec(source(), 0..3),
    )
        .prop_map(|(users, actions, resources, ips, sources)| {
            let mut x = Exclusions {
                users,
                actions,
                resources,
                ips,
                sources,
            };
            x.normalise();
            x
        })
}

fn filter() -> impl Strategy<Value = Filter> {
    (
        prop::collection::vec(text(), 0..4),
        prop::collection::vec(action(), 0..4),
        time(),
        prop::option::of(prop::sample::select(vec![
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Etc/GMT+5",
        ])),
        prop::option::of(text()),
        prop::option::of(resource()),
        prop::option::of(prop::sample::select(vec![Status::Success, Status::Failure])),
        prop::option::of(ip()),
        prop::option::of(source()),
        prop::sample::select(vec![Order::Desc, Order::Asc]),
        exclusions(),
    )
        .prop_map(
            |(
                mut users,
                mut actions,
                time,
                tz,
                q,
                resource,
                status,
                ip,
                source,
                order,
                exclude,
            )| {
                users.sort();
                users.dedup();
                actions.sort();
                actions.dedup();
                Filter {
                    users,
                    actions,
                    time,
                    tz: tz.map(String::from),
                    q,
                    resource,
                    status,
                    ip,
                    source,
                    exclude,
                    order,
                }
            },
        )
}

proptest! {
    #![proptest_config(seeded(2000))]

    #[test]
    fn canonical_string_round_trips(f in filter()) {
        let s = f.to_query_string();
        prop_assert_eq!(Filter::parse(&s), Ok(f.clone()), "{}", s);
    }

    /// Any text at all (it almost never parses: `structured_queries_round_trip` holds what
    /// parses to its canonical form).
    #[test]
    fn parsing_never_panics(s in "[a-z=&%+.:*@/0-9A-Z_-]{0,80}") {
        if let Ok(f) = Filter::parse(&s) {
            let canonical = f.to_query_string();
            let again = Filter::parse(&canonical).expect("a canonical string parses");
            prop_assert_eq!(&again, &f);
            prop_assert_eq!(again.to_query_string(), canonical);
        }
    }
}

/// One `key=value` pair of random text for a known key (or an unknown one, `x`).
fn random_pair() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "user",
            "action",
            "from",
            "to",
            "range",
            "q",
            "resource",
            "status",
            "ip",
            "source",
            "order",
            "tz",
            "not_user",
            "not_action",
            "not_resource",
            "not_ip",
            "not_source",
            "x",
        ]),
        "[^&=]{0,20}",
    )
        .prop_map(|(k, v)| format!("{k}={}", app::filter::percent_encode(&v)))
}

/// Query strings as they come: random pairs (most do not parse), or a real filter's pairs in
/// another order, sometimes with a random pair among them.
fn structured_query() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::collection::vec(random_pair(), 0..6).prop_map(|p| p.join("&")),
        3 => (filter(), prop::collection::vec(random_pair(), 0..2))
            .prop_flat_map(|(f, extra)| {
                let mut parts: Vec<String> = f
                    .to_query_string()
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect();
                parts.extend(extra);
                Just(parts).prop_shuffle()
            })
            .prop_map(|parts| parts.join("&")),
    ]
}

proptest! {
    // A query that does not parse is rejected, not counted (it did not panic, which is all it
    // shows): proptest runs until 2000 queries parsed, or fails past this many rejects.
    #![proptest_config(ProptestConfig { max_global_rejects: 4000, ..seeded(2000) })]

    #[test]
    fn structured_queries_round_trip(s in structured_query()) {
        let parsed = Filter::parse(&s);
        prop_assume!(parsed.is_ok());
        let f = parsed.unwrap();
        let canonical = f.to_query_string();
        prop_assert_eq!(Filter::parse(&canonical), Ok(f.clone()), "{}", s);
        prop_assert_eq!(Filter::parse(&canonical).unwrap().to_query_string(), canonical);
    }
}
