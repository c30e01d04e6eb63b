//! Changing one's own password on the Account page: why it can be refused. The rules for a new
//! password are the invitation's (`invitations::password_problem`); the server checks them and
//! the current password (`service::accounts::change_password`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::invitations::{password_problem, InviteRefusal, PASSWORD_MIN};

/// Why a password change was refused, in words that say what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PasswordRefusal {
    /// The current password typed is not the account's.
    WrongPassword,
    /// Too many wrong current passwords: the account is locked for the sign-in window.
    LockedOut,
    TooShort,
    Common,
    IsEmail,
    /// The new password is the current one.
    Unchanged,
    /// The two new passwords typed differ (checked in the page only).
    Mismatch,
}

impl fmt::Display for PasswordRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordRefusal::WrongPassword => {
                f.write_str("The current password is not right: type it again.")
            }
            PasswordRefusal::LockedOut => f.write_str(
                "Too many wrong passwords for this account: try again when the lockout ends (an admin can end it sooner).",
            ),
            PasswordRefusal::TooShort => write!(
                f,
                "Choose a password of at least {PASSWORD_MIN} characters: a few unrelated words are easy to remember."
            ),
            PasswordRefusal::Common => {
                f.write_str("This password is in every list attackers try first: choose another.")
            }
            PasswordRefusal::IsEmail => {
                f.write_str("A password must not be your email address: choose another.")
            }
            PasswordRefusal::Unchanged => {
                f.write_str("The new password is the current one: choose another.")
            }
            PasswordRefusal::Mismatch => {
                f.write_str("The two new passwords differ: type the same one twice.")
            }
        }
    }
}

/// What is wrong with `new` as the password of the account of `email`, if anything.
pub fn new_password_problem(new: &str, email: &str) -> Option<PasswordRefusal> {
    password_problem(new, email).map(|r| match r {
        InviteRefusal::PasswordCommon => PasswordRefusal::Common,
        InviteRefusal::PasswordIsEmail => PasswordRefusal::IsEmail,
        _ => PasswordRefusal::TooShort,
    })
}

/// One of the signed-in user's sessions, as the Account page lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// What ending it names (never the token or its hash).
    pub id: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Updated at most once a minute.
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the page asking.
    pub current: bool,
}

/// Why a session could not be ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionRefusal {
    /// Gone already (ended, expired), or not the caller's.
    NotFound,
    /// The page's own session: Sign out ends it.
    Current,
}

impl fmt::Display for SessionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionRefusal::NotFound => "That session has ended already: reload the page.",
            SessionRefusal::Current => "This is the session you are using: sign out to end it.",
        })
    }
}
