//! `/login`: the sign-in page.

mod page;

pub use page::LoginPage;
