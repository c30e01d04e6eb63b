//! `/exports`: scheduled exports, for admins and compliance officers. The page (`page`) lets
//! them in; the schedules, the form that makes or changes one, and the history of runs are
//! components (`components::{schedule_table, schedule_form, run_history}`).

mod page;

pub use page::ExportsPage;
