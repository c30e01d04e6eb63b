//! Components, named for what the user sees.

mod console_layout;
mod entry_table;

pub use console_layout::ConsoleLayout;
pub use entry_table::EntryTable;
