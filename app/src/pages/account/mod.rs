//! `/account`: the signed-in user's own account, for every role. The page (`page`) shows who
//! is signed in; changing the password is `components::password_form`, the second factor
//! `components::two_factor_panel`, its recovery codes `components::recovery_codes_once`.

mod page;

pub use page::AccountPage;
