//! Why a console call failed: one type from the server's backend through the server functions
//! to the page, matched by variant, never by its text.

use std::fmt;

use leptos::server_fn::{codec::JsonEncoding, error::FromServerFnError, error::ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::account::{PasswordRefusal, SessionRefusal};
use crate::exports::ScheduleRefusal;
use crate::filter::FilterError;
use crate::invitations::InviteRefusal;
use crate::keys::KeyRefusal;
use crate::settings::SettingsRefusal;
use crate::two_factor::TwoFactorRefusal;
use crate::users::UserRefusal;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleError {
    /// Nobody is signed in (the session ended while the page was open).
    SignedOut,
    /// The signed-in user's role may not read the log.
    NoAccess,
    /// The filter was refused: which parameter, and why.
    BadFilter(FilterError),
    /// The store could not answer now (the server logged why): try again.
    Unavailable,
    /// The search ran longer than the server allows (its statement timeout): narrow it.
    TooSlow,
    /// The server could not be reached, or its answer was not one (a proxy's error page):
    /// the console asks again by itself.
    Unreachable,
    /// A saved search was refused: why, in words that say what to do.
    SavedSearch(SavedSearchRefusal),
    /// The page is for admins only (API keys; users and settings later).
    AdminOnly,
    /// An API key could not be created, rotated or revoked: why.
    Key(KeyRefusal),
    /// A change to a user was refused: why.
    User(UserRefusal),
    /// An invitation could not be made or accepted: why.
    Invite(InviteRefusal),
    /// A second-factor change was refused: why.
    TwoFactor(TwoFactorRefusal),
    /// A password change was refused: why.
    Password(PasswordRefusal),
    /// Settings were not saved: why.
    Settings(SettingsRefusal),
    /// One of the caller's sessions could not be ended: why.
    Session(SessionRefusal),
    /// An export schedule was not saved, deleted or run: why.
    Schedule(ScheduleRefusal),
    /// An alert rule was not saved, previewed, muted or deleted: why.
    Rule(crate::alerts::RuleRefusal),
    /// A notification channel was not saved, tested or deleted: why.
    Channel(crate::alerts::ChannelRefusal),
    /// A delivery was not redelivered: why (not found, or not dead).
    Delivery(String),
    /// A sensitive change (second factor, API key, role, settings) needs the password again:
    /// the last time this session proved it was more than [`SUDO_MINUTES`] ago.
    ConfirmPassword,
    /// Two-factor sign-in is required for this account and not set up yet: nothing but
    /// setting it up (on `/account`) is allowed until it is.
    EnrolFirst,
    /// The server could not read the call's arguments (not something the console sends): a 400.
    BadCall(String),
    /// The call itself went wrong (encoding, a missing backend): a defect to report, with its
    /// detail.
    Broken(String),
}

/// Why a saved search could not be saved, opened or deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedSearchRefusal {
    NoName,
    NameTooLong,
    /// The name holds a control character (a tab, a line break).
    NameControl,
    DuplicateName,
    TooMany,
    /// Gone, or neither the reader's own nor shared.
    NotFound,
}

/// Longest name of a saved search, in characters.
pub const SAVED_SEARCH_NAME_MAX: usize = 100;
/// Most saved searches one reader keeps.
pub const SAVED_SEARCHES_MAX: usize = 100;

impl fmt::Display for SavedSearchRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SavedSearchRefusal::NoName => f.write_str("Give the search a name."),
            SavedSearchRefusal::NameTooLong => write!(
                f,
                "A name has at most {SAVED_SEARCH_NAME_MAX} characters: shorten it."
            ),
            SavedSearchRefusal::NameControl => {
                f.write_str("A name is one line of text: remove tabs and line breaks.")
            }
            SavedSearchRefusal::DuplicateName => f.write_str(
                "You already have a saved search with this name: choose another, or delete that one first.",
            ),
            SavedSearchRefusal::TooMany => write!(
                f,
                "You have {SAVED_SEARCHES_MAX} saved searches, the most one person can keep: delete one you no longer need."
            ),
            SavedSearchRefusal::NotFound => f.write_str(
                "This saved search no longer exists, or it is not shared with you.",
            ),
        }
    }
}

/// A saved search's name as stored: trimmed, one line, 1 to 100 characters.
pub fn saved_search_name(raw: &str) -> Result<String, SavedSearchRefusal> {
    let name = raw.trim();
    if name.is_empty() {
        Err(SavedSearchRefusal::NoName)
    } else if name.chars().count() > SAVED_SEARCH_NAME_MAX {
        Err(SavedSearchRefusal::NameTooLong)
    } else if name.contains(|c: char| c.is_control()) {
        Err(SavedSearchRefusal::NameControl)
    } else {
        Ok(name.to_string())
    }
}

impl ConsoleError {
    /// The HTTP status a server function answers this error with: a refusal of the request is
    /// a 4xx, a store that cannot answer now a 503; only a defect is a 500.
    pub fn status(&self) -> u16 {
        match self {
            ConsoleError::SignedOut => 401,
            ConsoleError::NoAccess | ConsoleError::AdminOnly => 403,
            ConsoleError::Key(KeyRefusal::NotFound) => 404,
            ConsoleError::Key(KeyRefusal::NotLive) => 409,
            ConsoleError::Key(_) => 400,
            ConsoleError::User(UserRefusal::NotFound) => 404,
            ConsoleError::User(_) => 409,
            ConsoleError::Invite(InviteRefusal::NotValid) => 404,
            ConsoleError::Invite(InviteRefusal::AlreadyUser | InviteRefusal::JustInvited) => 409,
            ConsoleError::Invite(_) => 400,
            ConsoleError::TwoFactor(TwoFactorRefusal::NotFound) => 404,
            ConsoleError::TwoFactor(TwoFactorRefusal::NoKey) => 503,
            ConsoleError::TwoFactor(TwoFactorRefusal::WrongCode) => 400,
            ConsoleError::TwoFactor(TwoFactorRefusal::LockedOut) => 429,
            ConsoleError::TwoFactor(_) => 409,
            ConsoleError::Password(PasswordRefusal::LockedOut) => 429,
            ConsoleError::Password(_) => 400,
            ConsoleError::Settings(SettingsRefusal::Unchanged) => 409,
            ConsoleError::Settings(_) => 400,
            ConsoleError::Session(SessionRefusal::NotFound) => 404,
            ConsoleError::Session(SessionRefusal::Current) => 409,
            ConsoleError::Schedule(ScheduleRefusal::NotFound | ScheduleRefusal::RunNotFound) => 404,
            ConsoleError::Schedule(ScheduleRefusal::NoObject(_) | ScheduleRefusal::TooMany) => 409,
            ConsoleError::Schedule(_) => 400,
            ConsoleError::Rule(crate::alerts::RuleRefusal::NotFound) => 404,
            ConsoleError::Rule(_) => 400,
            ConsoleError::Channel(crate::alerts::ChannelRefusal::NotFound) => 404,
            ConsoleError::Channel(_) => 400,
            ConsoleError::Delivery(_) => 409,
            ConsoleError::ConfirmPassword | ConsoleError::EnrolFirst => 403,
            ConsoleError::BadFilter(_) => 400,
            ConsoleError::SavedSearch(SavedSearchRefusal::NotFound) => 404,
            ConsoleError::SavedSearch(
                SavedSearchRefusal::DuplicateName | SavedSearchRefusal::TooMany,
            ) => 409,
            ConsoleError::SavedSearch(_) => 400,
            ConsoleError::Unavailable | ConsoleError::TooSlow => 503,
            ConsoleError::Unreachable => 502,
            ConsoleError::BadCall(_) => 400,
            ConsoleError::Broken(_) => 500,
        }
    }

    /// Whether asking again later may succeed by itself.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConsoleError::Unreachable | ConsoleError::Unavailable)
    }
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::SignedOut => f.write_str("Your session ended — sign in again."),
            ConsoleError::NoAccess => f.write_str(
                "Only admins and compliance officers can view the audit log. Ask an admin if you need access.",
            ),
            ConsoleError::BadFilter(e) => write!(f, "{e}"),
            ConsoleError::Unavailable => {
                f.write_str("The database is unavailable right now — retrying.")
            }
            ConsoleError::Unreachable => f.write_str("Cannot reach the server — retrying."),
            ConsoleError::TooSlow => f.write_str(
                "This search ran longer than the server allows and was stopped. Narrow it — a shorter time range, fewer values or a longer search text — and try again.",
            ),
            ConsoleError::SavedSearch(r) => write!(f, "{r}"),
            ConsoleError::AdminOnly => f.write_str(
                "Only admins can see and change this. Ask an admin if you need a change.",
            ),
            ConsoleError::Key(r) => write!(f, "{r}"),
            ConsoleError::User(r) => write!(f, "{r}"),
            ConsoleError::Invite(r) => write!(f, "{r}"),
            ConsoleError::TwoFactor(r) => write!(f, "{r}"),
            ConsoleError::Password(r) => write!(f, "{r}"),
            ConsoleError::Settings(r) => write!(f, "{r}"),
            ConsoleError::Session(r) => write!(f, "{r}"),
            ConsoleError::Schedule(r) => write!(f, "{r}"),
            ConsoleError::Rule(r) => write!(f, "{r}"),
            ConsoleError::Channel(r) => write!(f, "{r}"),
            ConsoleError::Delivery(w) => f.write_str(w),
            ConsoleError::ConfirmPassword => f.write_str(
                "For this change, confirm your password first: you last proved it more than 10 minutes ago.",
            ),
            ConsoleError::EnrolFirst => f.write_str(
                "Your organisation requires two-factor sign-in: set it up on the Account page first.",
            ),
            ConsoleError::BadCall(detail) => write!(
                f,
                "The request's arguments could not be read ({detail}). Reload the page."
            ),
            ConsoleError::Broken(detail) => write!(
                f,
                "The console and the server did not understand each other ({detail}). Reload the page."
            ),
        }
    }
}

impl std::error::Error for ConsoleError {}

/// How long after proving the password (signing in, or confirming it) a session may make
/// sensitive changes without being asked for it again ("sudo mode").
pub const SUDO_MINUTES: i64 = 10;

impl From<SettingsRefusal> for ConsoleError {
    fn from(r: SettingsRefusal) -> Self {
        ConsoleError::Settings(r)
    }
}

impl From<InviteRefusal> for ConsoleError {
    fn from(r: InviteRefusal) -> Self {
        ConsoleError::Invite(r)
    }
}

impl From<PasswordRefusal> for ConsoleError {
    fn from(r: PasswordRefusal) -> Self {
        ConsoleError::Password(r)
    }
}

impl From<TwoFactorRefusal> for ConsoleError {
    fn from(r: TwoFactorRefusal) -> Self {
        ConsoleError::TwoFactor(r)
    }
}

impl From<UserRefusal> for ConsoleError {
    fn from(r: UserRefusal) -> Self {
        ConsoleError::User(r)
    }
}

impl From<ScheduleRefusal> for ConsoleError {
    fn from(r: ScheduleRefusal) -> Self {
        ConsoleError::Schedule(r)
    }
}

impl From<KeyRefusal> for ConsoleError {
    fn from(r: KeyRefusal) -> Self {
        ConsoleError::Key(r)
    }
}

impl From<FilterError> for ConsoleError {
    fn from(e: FilterError) -> Self {
        ConsoleError::BadFilter(e)
    }
}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server, a request whose arguments cannot be read (hand-made: the console
            // never sends one): refused, a 400, never a 500 or a 502.
            ServerFnErrorErr::Args(why)
            | ServerFnErrorErr::MissingArg(why)
            | ServerFnErrorErr::Deserialization(why)
                if cfg!(feature = "ssr") =>
            {
                ConsoleError::BadCall(why)
            }
            // In the browser: the network failed, or what came back was not the server's
            // answer (a proxy's error page cannot be decoded): both pass.
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Deserialization(_) => {
                ConsoleError::Unreachable
            }
            other => ConsoleError::Broken(other.to_string()),
        }
    }

    /// Every server function's refusal in the browser passes here: an ended session is
    /// reported to the page once, wherever it was noticed (`crate::session`); a second factor
    /// the settings now require leads to the Account page; a change that needs the password
    /// again opens the dialog that asks for it.
    fn de(data: leptos::server_fn::Bytes) -> Self {
        use leptos::server_fn::error::IntoAppError;
        use leptos::server_fn::Decodes;
        let error = Self::Encoder::decode(data)
            .unwrap_or_else(|e| ServerFnErrorErr::Deserialization(e.to_string()).into_app_error());
        if error == ConsoleError::SignedOut {
            crate::session::report_ended();
        }
        if error == ConsoleError::EnrolFirst {
            crate::session::enrol_first();
        }
        if error == ConsoleError::ConfirmPassword {
            crate::session::report_password_needed();
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_read_in_plain_words() {
        let e = ConsoleError::from_server_fn_error(ServerFnErrorErr::Request(
            "TypeError: Failed to fetch".into(),
        ));
        assert_eq!(e, ConsoleError::Unreachable);
        assert_eq!(e.to_string(), "Cannot reach the server — retrying.");
        assert!(e.is_transient());
        let bad = ConsoleError::from(FilterError::new("range", "must be one of 15m, 1h"));
        assert_eq!(bad.to_string(), "range: must be one of 15m, 1h");
        assert!(!bad.is_transient());
        // The error travels as JSON and comes back the same.
        let back = ConsoleError::de(bad.ser());
        assert_eq!(back, bad);
    }
}
