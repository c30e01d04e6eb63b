//! The API's input grammar as regular expressions, for the OpenAPI document: every value a
//! pattern here matches, its parser accepts (so a client that follows the document is never
//! refused), and the parsers' own tests hold them to that (`tests` below for the filter, the
//! event's in `server::domain::entry::event`).
//!
//! The patterns are written in the subset that ECMA-262 (JSON Schema), Python's `re` (the
//! fuzzer) and Rust's `regex` (these tests) read alike: `[0-9]`, never `\d` (Unicode digits in
//! two of them); `\s` is Unicode white space in all three. Parsers trim filter values, so a
//! pattern may be stricter than its parser about surrounding spaces, never looser.

/// Control characters (Unicode Cc, Rust's `char::is_control`): refused in every filter value.
macro_rules! no_control {
    () => {
        r"\x00-\x1f\x7f-\x9f"
    };
}

/// A calendar date, `YYYY-MM-DD`, leap days included; `date!(years)` with `years` the pattern
/// of four-digit years it allows besides the leap days of years divisible by 4 but not 100,
/// and `century_leaps` that of the years divisible by 400.
macro_rules! date {
    () => {
        date!("[0-9]{4}", "(?:[02468][048]|[13579][26])00")
    };
    ($years:expr, $century_leaps:expr) => {
        concat!(
            "(?:",
            $years,
            "-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])",
            "|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)",
            "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|",
            $century_leaps,
            ")-02-29)"
        )
    };
}

/// `THH:MM:SS`, then `fraction`, then `Z` or an offset `±HH:MM`.
macro_rules! time_of_day {
    ($fraction:expr) => {
        concat!(
            "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:",
            $fraction,
            ")?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
        )
    };
}

macro_rules! ipv4 {
    () => {
        r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    };
}

/// RFC 4291 text forms without an embedded IPv4 part: eight groups, or `::` standing for one
/// or more groups of zeros.
macro_rules! ipv6 {
    () => {
        concat!(
            "(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}",
            "|(?:[0-9a-fA-F]{1,4}:){1,7}:",
            "|(?:[0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}",
            "|(?:[0-9a-fA-F]{1,4}:){1,5}(?::[0-9a-fA-F]{1,4}){1,2}",
            "|(?:[0-9a-fA-F]{1,4}:){1,4}(?::[0-9a-fA-F]{1,4}){1,3}",
            "|(?:[0-9a-fA-F]{1,4}:){1,3}(?::[0-9a-fA-F]{1,4}){1,4}",
            "|(?:[0-9a-fA-F]{1,4}:){1,2}(?::[0-9a-fA-F]{1,4}){1,5}",
            "|[0-9a-fA-F]{1,4}:(?::[0-9a-fA-F]{1,4}){1,6}",
            "|:(?:(?::[0-9a-fA-F]{1,4}){1,7}|:))"
        )
    };
}

macro_rules! uuid {
    () => {
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    };
}

/// `user=`: any text without control characters that is not blank.
pub const USER: &str = concat!(
    "^[^",
    no_control!(),
    r"]*[^\s",
    no_control!(),
    "][^",
    no_control!(),
    "]*$"
);

/// `q=`: any text without control characters (blank is no search).
pub const SEARCH: &str = concat!("^[^", no_control!(), "]*$");

/// `action=`: an action name (two or more segments), or segments followed by `.*`.
pub const ACTION_PATTERN: &str =
    r"^(?:[a-z0-9_]+(?:\.[a-z0-9_]+)+|[a-z0-9_]+(?:\.[a-z0-9_]+)*\.\*)$";

/// `from=` and `to=`: a date, or an instant with at most microsecond precision.
pub const TIME_BOUND: &str = concat!(
    "^",
    date!(),
    "(?:",
    // Up to 6 digits; past them only zeros count (chrono reads 9 digits and skips the rest).
    time_of_day!(r"\.(?:[0-9]{1,6}|[0-9]{6}(?:0{1,2}|000[0-9]*))"),
    ")?$"
);

/// `resource=`: `type:id`, `type:*`, or a bare id; neither part blank.
pub const RESOURCE: &str = concat!(
    "^[^:",
    no_control!(),
    "]*[^\\s:",
    no_control!(),
    "][^:",
    no_control!(),
    "]*(?::[^",
    no_control!(),
    "]*[^\\s",
    no_control!(),
    "][^",
    no_control!(),
    "]*)?$"
);

/// `ip=`: an address, or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`).
pub const IP_BLOCK: &str = concat!(
    "^(?:",
    ipv4!(),
    "(?:/(?:3[0-2]|[12]?[0-9]))?|",
    ipv6!(),
    "(?:/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$"
);

/// `source=`: `trailkeep` or an API key's id.
pub const SOURCE: &str = concat!("^(?:trailkeep|", uuid!(), ")$");

/// Each filter parameter's pattern and greatest length (what the document states for one
/// value; `user` and `action` are repeatable, `tz` is listed from the database).
pub const FILTER_VALUES: &[(&str, &str, usize)] = &[
    ("user", USER, crate::filter::MAX_VALUE_LEN),
    ("q", SEARCH, crate::filter::MAX_VALUE_LEN),
    ("action", ACTION_PATTERN, crate::action::MAX_ACTION_LEN),
    ("from", TIME_BOUND, 64),
    ("to", TIME_BOUND, 64),
    ("resource", RESOURCE, crate::filter::MAX_VALUE_LEN),
    ("ip", IP_BLOCK, 64),
    ("source", SOURCE, 36),
    ("not_user", USER, crate::filter::MAX_VALUE_LEN),
    ("not_action", ACTION_PATTERN, crate::action::MAX_ACTION_LEN),
    ("not_resource", RESOURCE, crate::filter::MAX_VALUE_LEN),
    ("not_ip", IP_BLOCK, 64),
    ("not_source", SOURCE, 36),
];

/// An event's `action`: two or more segments of `[a-z0-9_]` joined by `.`.
pub const ACTION: &str = r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$";

/// An event's `ip`: one address.
pub const IP_ADDRESS: &str = concat!("^(?:", ipv4!(), "|", ipv6!(), ")$");

/// An event's `occurred_at`: an RFC 3339 instant (digits past nanoseconds are ignored),
/// without a leap second, in the years 0002–9998: the server takes 0001–9999 in UTC (what
/// PostgreSQL stores as it is hashed), and the pattern leaves out the edge years, where an
/// offset could carry the instant outside them.
pub const INSTANT: &str = concat!(
    "^",
    date!(
        "(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])",
        "(?:0[48]|[2468][048]|[13579][26])00"
    ),
    time_of_day!(r"\.[0-9]+"),
    "$"
);

/// An event's client-chosen `id`: a UUID, hyphenated or as 32 hex digits.
pub const EVENT_ID: &str = concat!("^(?:", uuid!(), "|[0-9a-fA-F]{32})$");

/// Text an event may carry (names, ids, user agent): anything but NUL.
pub const EVENT_TEXT: &str = r"^[^\x00]*$";

/// An event's `actor.id`: not blank, no NUL.
pub const ACTOR_ID: &str = r"^[^\x00]*[^\s\x00][^\x00]*$";

#[cfg(test)]
#[path = "../tests/support/seeded.rs"]
mod seeded;

#[cfg(test)]
mod tests {
    use super::seeded::seeded;
    use super::*;
    use crate::filter::Filter;
    use proptest::prelude::*;
    use proptest::string::string_regex_parsed;
    use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};

    /// `hir` with every unbounded repetition (`*`, `+`) bounded at `cap`.
    fn capped(hir: &Hir, cap: u32) -> Hir {
        match hir.kind() {
            HirKind::Repetition(r) => Hir::repetition(Repetition {
                max: Some(r.max.unwrap_or(r.min.max(cap))),
                sub: Box::new(capped(&r.sub, cap)),
                ..r.clone()
            }),
            HirKind::Capture(c) => Hir::capture(Capture {
                sub: Box::new(capped(&c.sub, cap)),
                ..c.clone()
            }),
            HirKind::Concat(subs) => Hir::concat(subs.iter().map(|h| capped(h, cap)).collect()),
            HirKind::Alternation(subs) => {
                Hir::alternation(subs.iter().map(|h| capped(h, cap)).collect())
            }
            _ => hir.clone(),
        }
    }

    /// The most characters a value of `hir` can have (`None`: unbounded).
    fn longest(hir: &Hir) -> Option<usize> {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => Some(0),
            HirKind::Literal(l) => Some(std::str::from_utf8(&l.0).unwrap().chars().count()),
            HirKind::Class(_) => Some(1),
            HirKind::Repetition(r) => Some(r.max? as usize * longest(&r.sub)?),
            HirKind::Capture(c) => longest(&c.sub),
            HirKind::Concat(subs) => subs.iter().map(longest).sum(),
            HirKind::Alternation(subs) => subs
                .iter()
                .map(longest)
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .max(),
        }
    }

    /// Values of the pattern (without its anchors) that fit in `max` characters, by
    /// construction: its unbounded repetitions bounded as far as the length allows.
    pub fn generator(pattern: &str, max: usize) -> BoxedStrategy<String> {
        let inner = pattern
            .strip_prefix('^')
            .and_then(|p| p.strip_suffix('$'))
            .expect("patterns are anchored");
        let hir = regex_syntax::Parser::new().parse(inner).unwrap();
        let fits = |cap: u32| longest(&capped(&hir, cap)).is_some_and(|n| n <= max);
        let cap = (1..=max as u32)
            .take_while(|&cap| fits(cap))
            .last()
            .unwrap_or_else(|| panic!("{pattern}: no value fits in {max} characters"));
        string_regex_parsed(&capped(&hir, cap))
            .expect("a pattern proptest can generate from")
            .boxed()
    }

    fn accepts(param: &str, value: &str) -> Result<(), String> {
        let query = format!("{param}={}", crate::filter::percent_encode(value));
        Filter::parse(&query).map(|_| ()).map_err(|e| e.to_string())
    }

    fn matcher(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    /// What is inserted to make a near miss: control characters (refused by every pattern,
    /// the only thing free text refuses), ASCII (what breaks a structured value) and any
    /// character.
    fn insertion() -> impl Strategy<Value = char> {
        prop_oneof![
            2 => prop_oneof![0x00u32..=0x1f, 0x7fu32..=0x9f].prop_map(|c| char::from_u32(c).unwrap()),
            1 => proptest::char::range(' ', '~'),
            1 => any::<char>(),
        ]
    }

    proptest! {
        // Every case is a real one: values are generated within their pattern and length,
        // and a near miss the pattern still takes is rejected, counted, and bounded (proptest
        // fails past `max_global_rejects` and otherwise runs all 1024 near misses).
        #![proptest_config(ProptestConfig { max_global_rejects: 1024, ..seeded(1024) })]

        /// Whatever a pattern matches, the filter accepts.
        #[test]
        fn the_filter_accepts_what_the_document_promises(
            ((param, pattern, max), value) in proptest::sample::select(FILTER_VALUES)
                .prop_flat_map(|p| (Just(p), generator(p.1, p.2)))
        ) {
            prop_assert!(matcher(pattern).is_match(&value) && value.chars().count() <= max,
                "the generator left {pattern} or {max} characters: {value:?}");
            prop_assert!(accepts(param, &value).is_ok(), "{param}={value:?}: {:?}", accepts(param, &value));
        }

        /// Near misses the pattern refuses are refused by the filter too (the document is
        /// not looser than the server), apart from surrounding spaces, which the filter trims.
        #[test]
        fn the_filter_refuses_what_the_document_refuses(
            ((param, pattern, max), value) in proptest::sample::select(FILTER_VALUES)
                .prop_flat_map(|p| (Just(p), generator(p.1, p.2), any::<usize>(), insertion()))
                .prop_map(|(p, value, at, ch)| {
                    let mut chars: Vec<char> = value.chars().collect();
                    let i = at % (chars.len() + 1);
                    chars.insert(i, ch);
                    (p, chars.into_iter().collect::<String>())
                })
        ) {
            let trimmed = value.trim();
            // An insertion the pattern still matches, or that the length refuses, is no near
            // miss of the pattern: rejected, so it does not count as a case.
            prop_assume!(!matcher(pattern).is_match(trimmed) && trimmed.chars().count() <= max);
            prop_assert!(accepts(param, &value).is_err(),
                "{param}={value:?} is accepted but the document refuses it");
        }
    }

    #[test]
    fn the_patterns_know_the_calendar_and_the_address_forms() {
        let time = matcher(TIME_BOUND);
        for ok in [
            "2024-02-29",
            "2000-02-29",
            "2026-12-31T23:59:59.123456Z",
            "0001-01-01T00:00:00+23:59",
        ] {
            assert!(time.is_match(ok), "{ok}");
            assert!(accepts("from", ok).is_ok(), "{ok}");
        }
        for bad in [
            "2026-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-11-25T10:00:00.1234567Z",
            "2026-11-25T24:00:00Z",
        ] {
            assert!(!time.is_match(bad), "{bad}");
            assert!(accepts("from", bad).is_err(), "{bad}");
        }
        let ip = matcher(IP_BLOCK);
        for ok in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7::",
            "1:2:3:4:5:6:7:8",
            "fe80::1/10",
            "10.0.0.0/8",
            "0.0.0.0/0",
        ] {
            assert!(ip.is_match(ok), "{ok}");
            assert!(accepts("ip", ok).is_ok(), "{ok}");
        }
        for bad in [
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            "01.2.3.4",
            "256.0.0.1",
            "10.0.0.0/33",
            "::/129",
            ":1",
        ] {
            assert!(!ip.is_match(bad), "{bad}");
            assert!(accepts("ip", bad).is_err(), "{bad}");
        }
    }
}
