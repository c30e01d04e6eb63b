//! One module per page of the console.

mod account;
mod alerts;
mod audit;
mod exports;
mod invite;
mod keys;
mod login;
mod not_found;
mod settings;
mod users;

pub use account::AccountPage;
pub use alerts::AlertsPage;
pub use audit::AuditPage;
pub use exports::ExportsPage;
pub use invite::InvitePage;
pub use keys::KeysPage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use settings::SettingsPage;
pub use users::UsersPage;
