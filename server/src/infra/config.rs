//! Settings from the environment.

/// Server settings beyond the standard `LEPTOS_*` variables.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `TRAILKEEP_SECURE_COOKIES=1`: always mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// `TRAILKEEP_TRUST_PROXY=1`: take the client address from `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// `TRAILKEEP_SITE_NAME`: the organisation or site named on PDF reports.
    pub site_name: String,
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

impl Config {
    pub fn from_env() -> Self {
        Config {
            secure_cookies: flag("TRAILKEEP_SECURE_COOKIES"),
            trust_proxy: flag("TRAILKEEP_TRUST_PROXY"),
            site_name: std::env::var("TRAILKEEP_SITE_NAME").unwrap_or_else(|_| "Trailkeep".into()),
        }
    }
}

/// `DATABASE_URL`, required by every command that touches the database.
pub fn database_url() -> Result<String, String> {
    std::env::var("DATABASE_URL").map_err(|_| {
        "DATABASE_URL is not set (e.g. postgres://user@127.0.0.1:5432/trailkeep)".to_string()
    })
}
