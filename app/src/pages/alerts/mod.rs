//! `/alerts`: rules, channels, the alerts decided and the delivery log.

mod page;

pub use page::AlertsPage;
