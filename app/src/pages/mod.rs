//! One module per page of the console.

mod audit;
mod login;
mod not_found;

pub use audit::AuditPage;
pub use login::LoginPage;
pub use not_found::NotFound;
