//! Components, named for what the user sees.

mod action_picker;
mod console_layout;
mod copy_button;
mod debounce;
mod entry_detail;
mod entry_table;
mod export_dialog;
mod filter_chips;
mod live_mode;
mod picker_summary;
mod resource_filter;
mod result_count;
mod search_bar;
mod status_picker;
mod time_range_picker;
mod user_picker;
mod view_toggles;

pub use action_picker::ActionPicker;
pub use console_layout::ConsoleLayout;
pub use copy_button::CopyButton;
pub use debounce::Debounce;
pub use entry_detail::EntryDetail;
pub use entry_table::EntryTable;
pub use export_dialog::ExportButton;
pub use filter_chips::{chips, cleared, FilterChips};
pub use live_mode::{LiveIndicator, LiveToggle};
pub use picker_summary::{panel_once_opened, track_open, PickerSummary};
pub use resource_filter::ResourceFilter;
pub use result_count::ResultCount;
pub use search_bar::{SearchBar, SEARCH_INPUT_ID};
pub use status_picker::StatusPicker;
pub use time_range_picker::TimeRangePicker;
pub use user_picker::UserPicker;
pub use view_toggles::{OrderToggle, TimeZoneToggle};
