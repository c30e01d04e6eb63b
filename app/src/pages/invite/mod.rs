//! `/invite#<token>`: where an invited person creates their account (`page`).

mod page;

pub use page::InvitePage;
