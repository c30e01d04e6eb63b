//! What a Top values memo (migrations/0037_top_memos.sql) is for: the Top values of a filter no
//! rollup keeps (a text search), counted once per UTC day and value over the whole log, then
//! kept up with what is appended, so that a later read groups a few rows a day instead of every
//! matching entry. Pure: the rows are `storage::query::top_memo`, the read
//! `storage::query::top`.

use app::filter::Filter;
use app::model::TopField;
use chrono::{DateTime, Duration, Utc};

use super::volume::{filter_key, units_within, MemoPolicy, Rollup};
use super::window::Bounds;

/// When a Top values memo is built, brought up to date and dropped.
#[derive(Clone, Copy, Debug)]
pub struct TopMemoPolicy {
    /// As for the chart's memo: how many entries appended after it bring it up to the head, how
    /// many memos are kept (its `min_span` is the chart's alone: see [`Self::worth_building`]).
    pub memo: MemoPolicy,
    /// A filter whose matches give more (day, field, value) rows than this keeps no values (it
    /// is marked as having too many, and counted from the log): one memo's memory and disk.
    pub rows_per_memo: i64,
    /// At most this many rows in all memos; the oldest built are dropped first.
    pub rows: i64,
}

impl TopMemoPolicy {
    pub const DEFAULT: TopMemoPolicy = TopMemoPolicy {
        memo: MemoPolicy::DEFAULT,
        rows_per_memo: 100_000,
        rows: 1_000_000,
    };

    /// Whether a read of `window` without a memo builds one: only a window open at its start.
    /// A memo counts every matching entry of the whole log, which for such a window costs
    /// little more than the answer (1.2 to 2.9 times at 10M: BENCHMARKS.md); for a window that
    /// starts later it can cost many times more (a week of `action=config.*`: 0.5 s answered,
    /// 24 s built), so those are counted from the log, and read a memo once one is kept.
    pub fn worth_building(&self, window: &Bounds) -> bool {
        window.from.is_none()
    }

    /// The most rows one memo keeps: more than all memos may keep would empty them all.
    pub fn most_rows(&self) -> i64 {
        self.rows_per_memo.min(self.rows)
    }
}

/// Bumped whenever what a filter matches changes, or which fields a rollup keeps (which
/// fields a memo holds), so that no memo of the old meaning is read.
const TOP_MEMO_VERSION: &str = "top-memo 1";

/// The key of `f`'s Top values memo: its canonical form without the window.
pub fn top_memo_key(f: &Filter) -> [u8; 32] {
    filter_key(TOP_MEMO_VERSION, f)
}

/// The fields a memo of `f` holds: those whose rollup does not keep `f` (the others are summed
/// from their rollup's hours).
pub fn memo_fields(f: &Filter) -> Vec<TopField> {
    TopField::ALL
        .into_iter()
        .filter(|&field| !Rollup::holding(field).keeps(f))
        .collect()
}

/// Whole UTC days inside a window (open where it is), or `None` when no whole day fits: the
/// part a memo answers; the partial days at its edges are counted from the log.
pub fn days_within(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<Bounds> {
    units_within(from, to, Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_days_inside_a_window() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let days = |from: Option<&str>, to: Option<&str>| {
            days_within(from.map(t), to.map(t)).map(|b| (b.from, b.to))
        };
        assert_eq!(
            days(Some("2026-11-01T10:00:00Z"), Some("2026-11-04T03:00:00Z")),
            Some((
                Some(t("2026-11-02T00:00:00Z")),
                Some(t("2026-11-04T00:00:00Z"))
            ))
        );
        // A window on midnights is whole; one inside a day, or across one midnight, has none.
        assert_eq!(
            days(Some("2026-11-01T00:00:00Z"), Some("2026-11-02T00:00:00Z")),
            Some((
                Some(t("2026-11-01T00:00:00Z")),
                Some(t("2026-11-02T00:00:00Z"))
            ))
        );
        assert_eq!(
            days(Some("2026-11-01T10:00:00Z"), Some("2026-11-02T09:00:00Z")),
            None
        );
        // Open ends stay open.
        assert_eq!(
            days(None, Some("2026-11-04T03:00:00Z")),
            Some((None, Some(t("2026-11-04T00:00:00Z"))))
        );
        assert_eq!(days(None, None), Some((None, None)));
    }

    #[test]
    fn a_search_memoises_every_field_a_field_filter_its_others() {
        let fields = |q: &str| memo_fields(&Filter::parse(q).unwrap());
        assert_eq!(fields("q=production"), TopField::ALL.to_vec());
        assert!(fields("").is_empty());
        assert_eq!(
            fields("user=u_01"),
            vec![TopField::Action, TopField::Resource, TopField::Ip]
        );
    }
}
