//! `/settings`: what an admin sets for the whole site (`components::settings_form`), each
//! save recorded as `settings.updated`. Admins only (the server functions check it again).

mod page;

pub use page::SettingsPage;
