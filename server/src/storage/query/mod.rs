//! Reading the log with a `Filter`, one file per job: [`conditions`] is the one place a filter
//! becomes SQL; [`snapshot`] pins what a read sees; [`pages`], [`counts`], [`export`] and
//! [`facets`] read. The pure parts (time windows, live matching) are in `domain`.

pub mod conditions;
pub mod counts;
pub mod error;
pub mod export;
pub mod facets;
pub mod pages;
pub mod snapshot;

pub use counts::{count, count_through};
pub use error::QueryError;
pub use export::{export_page, export_snapshot, ExportSnapshot};
pub use facets::{action_facets, actor_facet_page, actor_facets, actors_named};
#[cfg(feature = "bench")]
pub use pages::explain_page;
pub use pages::{by_id, matching_after, page, signed_page, Page};
pub use snapshot::{live_filter, time_zones};
