//! Which months of the log are archived: a UTC month is the seq range recorded in it
//! (`recorded_at` never decreases along seq, so it is one range), and it is archived as a
//! whole when the seq ranges of unfiltered bundles that were written cover every seq of it —
//! one monthly bundle, or the daily ones of each of its days. Filtered bundles hold only some
//! entries, so they never count. The coverage is decided on seqs, never on dates: a month is
//! whole only if no entry of it is missing from its archives.

use chrono::{DateTime, Datelike, TimeZone, Utc};

/// How much of a month's seq range the archives hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Nothing was recorded in the month.
    Empty,
    None,
    Partly,
    Whole,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Empty => "empty",
            Coverage::None => "none",
            Coverage::Partly => "partly",
            Coverage::Whole => "whole",
        }
    }
}

/// The first instant of the UTC month holding `t`.
pub fn month_of(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month at midnight UTC exists")
}

/// The first instant of the month after the one starting at `start`.
pub fn next_month(start: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = if start.month() == 12 {
        (start.year() + 1, 1)
    } else {
        (start.year(), start.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .expect("the first of a month at midnight UTC exists")
}

/// The months from the one holding `first` to the one holding `now`, oldest first, as
/// `(start, end)`.
pub fn months(first: DateTime<Utc>, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut start = month_of(first);
    while start <= now {
        let end = next_month(start);
        out.push((start, end));
        start = end;
    }
    out
}

/// The first month a retention policy keeping `keep` months keeps online at `now`: the
/// current month and the `keep` before it stay; every month before the returned instant may
/// go (once archived). The database applies the same rule (`audit_entries_drop_month`).
pub fn kept_from(now: DateTime<Utc>, keep: u32) -> DateTime<Utc> {
    let month = month_of(now);
    let index = month.year() as i64 * 12 + month.month0() as i64 - keep as i64;
    Utc.with_ymd_and_hms(
        index.div_euclid(12) as i32,
        index.rem_euclid(12) as u32 + 1,
        1,
        0,
        0,
        0,
    )
    .single()
    .expect("the first of a month at midnight UTC exists")
}

/// How much of `first..end` the ranges `archives` (each `first..end`) cover.
pub fn coverage(first: i64, end: i64, archives: &[(i64, i64)]) -> Coverage {
    if end <= first {
        return Coverage::Empty;
    }
    let mut ranges: Vec<(i64, i64)> = archives
        .iter()
        .map(|&(a, b)| (a.max(first), b.min(end)))
        .filter(|(a, b)| a < b)
        .collect();
    if ranges.is_empty() {
        return Coverage::None;
    }
    ranges.sort_unstable();
    let mut reached = first;
    for (a, b) in ranges {
        if a > reached {
            return Coverage::Partly;
        }
        reached = reached.max(b);
    }
    if reached >= end {
        Coverage::Whole
    } else {
        Coverage::Partly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn retention_keeps_the_current_month_and_the_ones_before_it() {
        assert_eq!(
            kept_from(utc("2027-04-15T10:00:00Z"), 1),
            utc("2027-03-01T00:00:00Z")
        );
        assert_eq!(
            kept_from(utc("2027-04-01T00:00:00Z"), 13),
            utc("2026-03-01T00:00:00Z")
        );
        assert_eq!(
            kept_from(utc("2027-01-31T23:59:59Z"), 1),
            utc("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            kept_from(utc("2027-01-01T00:00:00Z"), 24),
            utc("2025-01-01T00:00:00Z")
        );
    }

    #[test]
    fn months_run_from_the_first_entry_to_now() {
        let m = months(utc("2026-11-15T10:00:00Z"), utc("2027-01-02T00:00:00Z"));
        let starts: Vec<String> = m
            .iter()
            .map(|(s, _)| s.format("%Y-%m").to_string())
            .collect();
        assert_eq!(starts, ["2026-11", "2026-12", "2027-01"]);
        assert_eq!(m[1].1, utc("2027-01-01T00:00:00Z"));
        assert_eq!(
            months(utc("2027-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")).len(),
            1
        );
    }

    #[test]
    fn coverage_is_decided_on_every_seq() {
        assert_eq!(coverage(10, 10, &[]), Coverage::Empty);
        assert_eq!(coverage(10, 20, &[]), Coverage::None);
        assert_eq!(coverage(10, 20, &[(0, 10), (20, 30)]), Coverage::None);
        assert_eq!(coverage(10, 20, &[(10, 20)]), Coverage::Whole);
        assert_eq!(coverage(10, 20, &[(0, 100)]), Coverage::Whole);
        // Daily bundles that meet.
        assert_eq!(
            coverage(10, 20, &[(15, 20), (10, 13), (13, 15)]),
            Coverage::Whole
        );
        // One seq missing between them.
        assert_eq!(coverage(10, 20, &[(10, 13), (14, 20)]), Coverage::Partly);
        assert_eq!(coverage(10, 20, &[(10, 19)]), Coverage::Partly);
        assert_eq!(coverage(10, 20, &[(11, 20)]), Coverage::Partly);
        // Overlapping copies (two schedules, or a period run twice).
        assert_eq!(
            coverage(10, 20, &[(10, 20), (10, 20), (12, 14)]),
            Coverage::Whole
        );
    }
}
