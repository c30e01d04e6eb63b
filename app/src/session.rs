//! An ended session (signed out in another tab, the cookie expired, the account disabled),
//! wherever the page notices it: a server function answering [`ConsoleError::SignedOut`]
//! (decoded in one place, `error.rs`), the live socket refused, the badge's check or an export
//! answered 401. Each reports it here with one window event; the console layout listens and
//! shows "Your session ended — sign in again" with a link back to the same page. Nothing is
//! retried for ever and nothing navigates to a JSON error.
//!
//! [`ConsoleError::SignedOut`]: crate::error::ConsoleError::SignedOut

/// The window event that says the session ended.
pub const ENDED_EVENT: &str = "trailkeep-session-ended";

/// The window event that says a change needs the password again (sudo mode).
pub const PASSWORD_NEEDED_EVENT: &str = "trailkeep-password-needed";

/// Tells the page to ask for the password (`components::sudo_dialog` listens).
pub fn report_password_needed() {
    #[cfg(feature = "hydrate")]
    if let Ok(event) = web_sys::Event::new(PASSWORD_NEEDED_EVENT) {
        let _ = leptos::prelude::window().dispatch_event(&event);
    }
}

/// Tells the page its session ended (in the browser; nothing happens on the server).
pub fn report_ended() {
    #[cfg(feature = "hydrate")]
    if let Ok(event) = web_sys::Event::new(ENDED_EVENT) {
        let _ = leptos::prelude::window().dispatch_event(&event);
    }
}

/// Leads the page to set up the second factor the settings require (they changed while it
/// was open): the server would refuse everything else.
pub fn enrol_first() {
    #[cfg(feature = "hydrate")]
    {
        let location = leptos::prelude::window().location();
        if location.pathname().ok().as_deref() != Some("/account") {
            let _ = location.assign("/account?enrol=required");
        }
    }
}

/// The sign-in page, told to come back to `here` (a path with its query).
pub fn sign_in_again_href(here: &str) -> String {
    let here = if here.starts_with('/') && !here.starts_with("//") {
        here
    } else {
        "/audit"
    };
    format!("/login?next={}", crate::filter::percent_encode(here))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_link_comes_back_to_the_same_page() {
        assert_eq!(
            sign_in_again_href("/audit?user=grace&range=7d"),
            "/login?next=/audit%3Fuser%3Dgrace%26range%3D7d"
        );
        // Only a path of this site.
        assert_eq!(sign_in_again_href("//evil.example/x"), "/login?next=/audit");
    }
}
