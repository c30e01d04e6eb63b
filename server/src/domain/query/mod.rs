//! Reading the log beyond the shared `app::filter::Filter`: page cursors (`cursor`), a filter's
//! time window resolved to instants (`window`), and the in-memory match of an entry against a
//! filter (`live_filter`) that live streams and the export check use; what the chart's buckets
//! and memo are (`volume`), and Top values' memo (`top_memo`).

pub mod cursor;
pub mod live_filter;
pub mod top_memo;
pub mod volume;
pub mod window;
