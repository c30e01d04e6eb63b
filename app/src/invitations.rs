//! Invitations as the Users page makes them and the invitee accepts them: a pending
//! invitation's view, the link shown once, what the invitee's page shows, the rules of a
//! password (at least 12 characters, not a common one, not the email) and why a request is
//! refused. The server decides (an invitation is accepted by one conditional UPDATE, so two
//! tabs cannot both use it); the pages use the same words.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::Role;

/// The shortest password an invited user may choose.
pub const PASSWORD_MIN: usize = 12;
/// What every invitation token starts with (then 64 hex characters: 32 random bytes).
pub const TOKEN_PREFIX: &str = "tki_";

/// Passwords refused for being in every breach list (compared ignoring case).
const COMMON: &str = include_str!("common-passwords.txt");

/// An invitation not yet accepted, as admins and compliance officers see it: never its token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A new invitation with its token: the only time the token is shown (the page makes the link
/// `<origin>/invite#<token>`: after `#`, so it never reaches a server's or a proxy's log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvitation {
    pub invitation: Invitation,
    pub token: String,
}

/// What the invitee's page shows about the invitation it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationFor {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// Why an invitation could not be made or accepted, in words that say what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteRefusal {
    BadEmail,
    NoName,
    NameTooLong,
    /// Someone already has an account with this email.
    AlreadyUser,
    /// Another invitation for this email was made at the same moment.
    JustInvited,
    /// Unknown, used, expired or replaced by a newer one: one answer for all, so a link tells a
    /// stranger nothing.
    NotValid,
    PasswordTooShort,
    PasswordCommon,
    PasswordIsEmail,
}

impl fmt::Display for InviteRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InviteRefusal::BadEmail => f.write_str("Enter the person's email address (name@example.com)."),
            InviteRefusal::NoName => f.write_str("Enter the person's name, as colleagues know them."),
            InviteRefusal::NameTooLong => f.write_str("A name has at most 200 characters: shorten it."),
            InviteRefusal::AlreadyUser => f.write_str(
                "Someone already has an account with this email: find them in the list (reactivate them if they are deactivated).",
            ),
            InviteRefusal::JustInvited => f.write_str(
                "Someone else invited this email a moment ago: reload the page to see it under Pending invitations.",
            ),
            InviteRefusal::NotValid => f.write_str(
                "This invitation link cannot be used: it was used already, it expired, or a newer one replaced it. Ask an admin for a new one.",
            ),
            InviteRefusal::PasswordTooShort => write!(
                f,
                "Choose a password of at least {PASSWORD_MIN} characters: a few unrelated words are easy to remember."
            ),
            InviteRefusal::PasswordCommon => f.write_str(
                "This password is in every list attackers try first: choose another.",
            ),
            InviteRefusal::PasswordIsEmail => {
                f.write_str("A password must not be your email address: choose another.")
            }
        }
    }
}

/// What is wrong with `password` for the account of `email`, if anything.
pub fn password_problem(password: &str, email: &str) -> Option<InviteRefusal> {
    let lower = password.trim().to_lowercase();
    // Spaces around it do not count (twelve spaces are no password).
    if password.trim().chars().count() < PASSWORD_MIN {
        Some(InviteRefusal::PasswordTooShort)
    } else if lower == email.trim().to_lowercase()
        || email
            .split('@')
            .next()
            .is_some_and(|local| local.len() >= 4 && lower == local.to_lowercase())
    {
        Some(InviteRefusal::PasswordIsEmail)
    } else if COMMON
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|common| common == lower)
    {
        Some(InviteRefusal::PasswordCommon)
    } else {
        None
    }
}

/// Whether `token` has the shape of one (`tki_` and 64 lower-case hex characters).
pub fn token_shape(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_uncommon_and_not_the_email() {
        let email = "pat.lee@example.com";
        assert_eq!(
            password_problem("short", email),
            Some(InviteRefusal::PasswordTooShort)
        );
        assert_eq!(
            password_problem("Password1234", email),
            Some(InviteRefusal::PasswordCommon)
        );
        assert_eq!(
            password_problem("QWERTYUIOP12", email),
            Some(InviteRefusal::PasswordCommon)
        );
        assert_eq!(
            password_problem("PAT.LEE@example.com", email),
            Some(InviteRefusal::PasswordIsEmail)
        );
        assert_eq!(
            password_problem("pat.lee", "pat.lee@x.io"),
            Some(InviteRefusal::PasswordTooShort)
        );
        assert_eq!(password_problem("otter lantern quarry", email), None);
        // The list's own comment lines are not passwords.
        assert!(COMMON
            .lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.chars().count() >= PASSWORD_MIN));
    }

    #[test]
    fn a_token_has_one_shape() {
        assert!(token_shape(&format!("tki_{}", "ab".repeat(32))));
        assert!(!token_shape(&format!("tki_{}", "AB".repeat(32))));
        assert!(!token_shape(&format!("tk_{}", "ab".repeat(32))));
        assert!(!token_shape("tki_"));
    }
}
