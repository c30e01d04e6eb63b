//! Components, named for what the user sees.

mod action_picker;
mod console_layout;
mod copy_button;
mod debounce;
mod entry_detail;
mod entry_table;
mod export_dialog;
mod field_filter;
mod filter_chips;
mod integrity_badge;
mod ip_filter;
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
pub use entry_table::{EntryTable, StatusLabel};
pub use export_dialog::ExportButton;
pub use field_filter::FieldFilter;
pub use filter_chips::{ChipWords, FilterChips};
pub use integrity_badge::{IntegrityBadge, ProofStatus};
pub use ip_filter::IpFilter;
pub use live_mode::{LiveIndicator, LiveToggle};
pub use picker_summary::{panel_once_opened, track_open, PickerSummary};
pub use resource_filter::ResourceFilter;
pub use result_count::ResultCount;
pub use search_bar::{SearchBar, SEARCH_INPUT_ID};
pub use status_picker::StatusPicker;
pub use time_range_picker::TimeRangePicker;
pub use user_picker::UserPicker;
pub use view_toggles::{OrderToggle, TimeZoneToggle};

/// Whether a key press happened while typing into a field (then `/` and the arrows are the
/// field's).
pub fn typing(ev: &leptos::ev::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.has_attribute("contenteditable")
        })
}
