//! `/audit`: the audit log. Everything on it follows the URL (see `console_state`): the page
//! (`page`) lets in who may read the log, which (`log`) shows the entries with the filter bar
//! (`components::FilterBar`) above them, or says why there are none (`states`).

mod log;
mod page;
mod states;

pub use page::AuditPage;
