//! Settings from the environment.

use crate::service::accounts::SignInLimits;

/// Server settings beyond the standard `LEPTOS_*` variables.
#[derive(Clone, Debug)]
pub struct Config {
    /// `TRAILKEEP_SECURE_COOKIES=1`: always mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// `TRAILKEEP_TRUST_PROXY=1`: take the client address from `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// `TRAILKEEP_SITE_NAME`: the organisation or site named on PDF reports.
    pub site_name: String,
    /// `TRAILKEEP_LATE_RECORD_SECONDS` (default 300): the detail panel marks an entry whose
    /// occurred and recorded times lie further apart than this.
    pub recorded_late_after: chrono::Duration,
    /// Sign-in limits; `TRAILKEEP_SIGNIN_IP_FAILURES` (default 30) sets how many refused
    /// sign-ins one address may make in 15 minutes.
    pub sign_in: SignInLimits,
}

/// Five minutes: more than clock drift and retries, less than a batch sent the next day.
pub const DEFAULT_LATE_RECORD_SECONDS: i64 = 300;

impl Default for Config {
    fn default() -> Self {
        Config {
            secure_cookies: false,
            trust_proxy: false,
            site_name: "Trailkeep".into(),
            recorded_late_after: chrono::Duration::seconds(DEFAULT_LATE_RECORD_SECONDS),
            sign_in: SignInLimits::default(),
        }
    }
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let late = match std::env::var("TRAILKEEP_LATE_RECORD_SECONDS") {
            Err(_) => DEFAULT_LATE_RECORD_SECONDS,
            Ok(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|s| (0..=365 * 86_400).contains(s))
                .ok_or_else(|| {
                    format!(
                        "TRAILKEEP_LATE_RECORD_SECONDS={v:?}: give whole seconds from 0 to \
                         31536000 (default {DEFAULT_LATE_RECORD_SECONDS})"
                    )
                })?,
        };
        let mut sign_in = SignInLimits::default();
        if let Ok(v) = std::env::var("TRAILKEEP_SIGNIN_IP_FAILURES") {
            sign_in.ip_failures = v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    format!(
                        "TRAILKEEP_SIGNIN_IP_FAILURES={v:?}: give a whole number from 1 to 1000000 \
                         (default {})",
                        SignInLimits::default().ip_failures
                    )
                })?;
        }
        Ok(Config {
            secure_cookies: flag("TRAILKEEP_SECURE_COOKIES"),
            trust_proxy: flag("TRAILKEEP_TRUST_PROXY"),
            site_name: std::env::var("TRAILKEEP_SITE_NAME").unwrap_or_else(|_| "Trailkeep".into()),
            recorded_late_after: chrono::Duration::seconds(late),
            sign_in,
        })
    }
}

/// `DATABASE_URL`, required by every command that touches the database.
pub fn database_url() -> Result<String, String> {
    std::env::var("DATABASE_URL").map_err(|_| {
        "DATABASE_URL is not set (e.g. postgres://user@127.0.0.1:5432/trailkeep)".to_string()
    })
}
