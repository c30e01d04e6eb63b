//! The chart's buckets: how wide, from the span the chart covers, so that a window holds at
//! most [`MAX_BUCKETS`] of a size people read (a minute, an hour, a day…). Pure: the grouping
//! itself is `storage::query::volume`.

use chrono::{DateTime, Duration, Utc};

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
}
