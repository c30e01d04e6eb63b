//! Why a console call failed: one type from the server's backend through the server functions
//! to the page, matched by variant, never by its text.

use std::fmt;

use leptos::server_fn::{codec::JsonEncoding, error::FromServerFnError, error::ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::filter::FilterError;

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
    /// The call itself went wrong (arguments, encoding): a defect to report, with its detail.
    Broken(String),
}

impl ConsoleError {
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
            ConsoleError::Broken(detail) => write!(
                f,
                "The console and the server did not understand each other ({detail}). Reload the page."
            ),
        }
    }
}

impl std::error::Error for ConsoleError {}

impl From<FilterError> for ConsoleError {
    fn from(e: FilterError) -> Self {
        ConsoleError::BadFilter(e)
    }
}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The network failed, or what came back was not the server's answer (a proxy's
            // error page cannot be decoded): both pass.
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Deserialization(_) => {
                ConsoleError::Unreachable
            }
            other => ConsoleError::Broken(other.to_string()),
        }
    }

    /// Every server function's refusal in the browser passes here: an ended session is
    /// reported to the page once, wherever it was noticed (`crate::session`).
    fn de(data: leptos::server_fn::Bytes) -> Self {
        use leptos::server_fn::error::IntoAppError;
        use leptos::server_fn::Decodes;
        let error = Self::Encoder::decode(data)
            .unwrap_or_else(|e| ServerFnErrorErr::Deserialization(e.to_string()).into_app_error());
        if error == ConsoleError::SignedOut {
            crate::session::report_ended();
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
