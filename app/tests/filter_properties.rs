//! Property tests: every filter survives its canonical query string, and parsing never panics.

use app::action::ActionPattern;
use app::filter::{Filter, IpBlock, Order, RelativeRange, ResourcePattern, TimeBound, TimeWindow};
use app::model::{Source, Status};
use chrono::{DateTime, NaiveDate};
use proptest::prelude::*;

/// Text as users type it: any characters but controls, no surrounding whitespace.
fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,40}".prop_filter_map("trimmed, non-empty", |s| {
        let t = s.trim().to_string();
        (!t.is_empty()).then_some(t)
    })
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
    prop_oneof![
        (kind, id).prop_filter_map("id * means any", |(k, i): (String, String)| {
            (i != "*").then_some(ResourcePattern::Exact { kind: k, id: i })
        }),
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
        prop::option::of(prop_oneof![
            Just(Source::Trailkeep),
            any::<u128>().prop_map(|n| Source::Key(uuid::Uuid::from_u128(n))),
        ]),
        prop::sample::select(vec![Order::Desc, Order::Asc]),
    )
        .prop_map(
            |(mut users, mut actions, time, tz, q, resource, status, ip, source, order)| {
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
                    order,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn canonical_string_round_trips(f in filter()) {
        let s = f.to_query_string();
        prop_assert_eq!(Filter::parse(&s), Ok(f.clone()), "{}", s);
    }

    #[test]
    fn parsing_never_panics_and_is_idempotent(s in "[a-z=&%+.:*@/0-9A-Z_-]{0,80}") {
        if let Ok(f) = Filter::parse(&s) {
            let canonical = f.to_query_string();
            let again = Filter::parse(&canonical).expect("a canonical string parses");
            prop_assert_eq!(&again, &f);
            prop_assert_eq!(again.to_query_string(), canonical);
        }
    }

    #[test]
    fn structured_queries_never_panic(pairs in prop::collection::vec(
        (prop::sample::select(vec!["user", "action", "from", "to", "range", "q", "resource", "status", "ip", "source", "order", "tz", "x"]), "[^&=]{0,20}"),
        0..6,
    )) {
        let s = pairs.iter().map(|(k, v)| format!("{k}={}", app::filter::percent_encode(v))).collect::<Vec<_>>().join("&");
        if let Ok(f) = Filter::parse(&s) {
            prop_assert_eq!(Filter::parse(&f.to_query_string()), Ok(f));
        }
    }
}
