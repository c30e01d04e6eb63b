//! Reading the log with a `Filter`, one file per job: [`conditions`] is the one place a filter
//! becomes SQL; [`snapshot`] pins what a read sees; [`pages`], [`counts`], [`export`],
//! [`facets`], [`top`] and [`volume`] read ([`top_memo`] and [`volume_memo`]: what the last two
//! remember of a search). The pure parts (time windows, live matching) are in `domain`.

pub mod conditions;
pub mod counts;
pub mod error;
pub mod export;
pub mod facets;
pub mod never;
pub mod pages;
pub mod snapshot;
pub mod top;
mod top_fields;
pub mod top_memo;
pub mod volume;
mod volume_bucket;
pub mod volume_memo;

pub use counts::{any_after, count, count_through};
pub use error::QueryError;
pub use export::{export_page, export_snapshot, range_count, range_page, ExportSnapshot};
pub use facets::{
    action_facets, action_facets_under, actor_facet_page, actor_facets, actors_named,
};
pub use never::never_recorded;
#[cfg(feature = "bench")]
pub use pages::explain_page;
pub use pages::{by_id, matching_after, page, signed_page, Page};
pub use snapshot::{live_filter, time_zones, wall_clocks};
#[cfg(feature = "bench")]
pub use top::top_values_without_memo;
pub use top::{top_values, top_values_with};
pub use volume::{volume, volume_with};
