//! A user's second factor as the Account page shows it: whether it is on, how many recovery
//! codes are left, what enrolment shows once, and why a change was refused. The server checks
//! every code (`service::two_factor`); the page only words the answers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The signed-in user's second factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorStatus {
    /// A confirmed authenticator app: sign-in asks for its code.
    pub enabled: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u32,
    /// The Settings require a second factor for this user: it cannot be turned off, and
    /// until it is set up nothing else is allowed.
    pub required: bool,
}

/// What enrolment shows once: the QR code (inline SVG made by the server) and the same seed
/// as text, for apps that cannot scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// Base32, grouped by four for reading.
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// Ten recovery codes, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes(pub Vec<String>);

/// Why a second-factor change was refused, in words that say what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TwoFactorRefusal {
    /// The code is not the app's current one (or was used already).
    WrongCode,
    /// Two-factor sign-in is on already.
    AlreadyOn,
    /// Two-factor sign-in is off.
    NotOn,
    /// No enrolment was started (or another tab started a newer one).
    NotStarted,
    /// This server has no key file to seal seeds with (a tool, not `trailkeep serve`).
    NoKey,
    /// There is no such user.
    NotFound,
    /// Too many wrong codes for this account: wait for the sign-in window.
    LockedOut,
    /// The Settings require a second factor for this user: it cannot be turned off (new
    /// recovery codes, or an admin's reset, serve a lost phone).
    Required,
}

impl fmt::Display for TwoFactorRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TwoFactorRefusal::WrongCode => {
                "That code is not right: type the 6 digits your app shows now (each code works once), or a recovery code."
            }
            TwoFactorRefusal::AlreadyOn => {
                "Two-factor sign-in is already on. Reload the page."
            }
            TwoFactorRefusal::NotOn => "Two-factor sign-in is off. Reload the page.",
            TwoFactorRefusal::NotStarted => {
                "This set-up was replaced or has not started: choose “Set up” again."
            }
            TwoFactorRefusal::NoKey => {
                "This server cannot store second factors: it runs without the log's key file. Ask your operator."
            }
            TwoFactorRefusal::NotFound => "There is no such user: reload the page.",
            TwoFactorRefusal::LockedOut => {
                "Too many wrong codes for this account: try again when the lockout ends."
            }
            TwoFactorRefusal::Required => {
                "Your organisation requires two-factor sign-in, so it cannot be turned off. For a new phone, ask an admin to reset it and set it up again."
            }
        })
    }
}

/// The seed grouped by four characters, as it is read aloud or typed.
pub fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
