//! Settings from the environment. A variable set to something it does not take stops the
//! server with a [`ConfigError`] naming the variable and what it takes; none is silently
//! replaced by its default, and no message repeats `DATABASE_URL` (it may hold a password).

use std::time::Duration;

use crate::infra::http::serve::Limits;
use crate::service::accounts::SignInLimits;
use crate::service::ingest::IngestLimits;

/// Why the environment's settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable holds something other than a whole number within its bounds: its name, the
    /// value as given, and what it takes.
    #[error("{name}={value:?}: give {unit} from {min} to {max} (default {default})")]
    OutOfRange {
        name: &'static str,
        value: String,
        /// What the number counts, as the message says it: "a whole number", "whole seconds".
        unit: &'static str,
        min: u64,
        max: u64,
        default: u64,
    },
    /// `TRAILKEEP_OUTBOUND_ALLOW` holds something that is not a list of networks.
    #[error("TRAILKEEP_OUTBOUND_ALLOW: {0}")]
    Outbound(#[from] crate::domain::outbound::OutboundError),
    /// A variable holds something that does not read as what it names.
    #[error("{name}={value:?}: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A required variable is not set (or is not Unicode).
    #[error("{name} is not set (e.g. {example})")]
    Missing {
        name: &'static str,
        /// A value of the form it takes.
        example: &'static str,
    },
}

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
    /// `TRAILKEEP_INVITATION_HOURS` (default 72, at most 720): how long an invitation link
    /// stays usable.
    pub invitation_valid: Duration,
    /// Sign-in limits; `TRAILKEEP_SIGNIN_IP_FAILURES` (default 30) sets how many refused
    /// sign-ins one address may make in 15 minutes.
    pub sign_in: SignInLimits,
    /// The HTTP server's bounds: `TRAILKEEP_HTTP_MAX_CONNECTIONS` (1024),
    /// `TRAILKEEP_HTTP_HEADER_SECONDS` (10), `TRAILKEEP_HTTP_REQUEST_SECONDS` (60),
    /// `TRAILKEEP_HTTP_WRITE_STALL_SECONDS` (60),
    /// `TRAILKEEP_SHUTDOWN_GRACE_SECONDS` (20).
    pub http: Limits,
    /// The database: `TRAILKEEP_DB_CONNECTIONS` (8) for appending, sessions and accounts,
    /// `TRAILKEEP_DB_READ_CONNECTIONS` (16) for searches and exports, whose statements stop
    /// after `TRAILKEEP_READ_STATEMENT_SECONDS` (30).
    pub db: DbLimits,
    /// The signed checkpoints (issue 15): `TRAILKEEP_KEY_FILE` (default `trailkeep-log.key`),
    /// `TRAILKEEP_LOG_ORIGIN` (default: the key's name; `trailkeep.localhost/log` for a new
    /// key), `TRAILKEEP_CHECKPOINT_SECONDS` (10).
    pub log: LogConfig,
    /// What one API key may append: `TRAILKEEP_INGEST_EVENTS_PER_MINUTE` (600000) and
    /// `TRAILKEEP_INGEST_EVENTS_PER_DAY` (500000000, per UTC day); beyond, 429.
    pub ingest: IngestLimits,
    /// The slowest an export's client may read: `TRAILKEEP_EXPORT_MIN_BYTES_PER_SECOND`
    /// (65536) over each `TRAILKEEP_EXPORT_FLOOR_SECONDS` (15); a slower one is dropped.
    pub export_floor: ExportFloor,
    /// How many exports and live sockets run at once, per reader and per process.
    pub caps: Caps,
    /// `TRAILKEEP_EXPORT_DIR` (default `trailkeep-exports`): the root under which scheduled
    /// exports write to their folders (several processes share it: a common mount).
    pub export_dir: std::path::PathBuf,
    /// `TRAILKEEP_OUTBOUND_ALLOW` (default none): the non-public networks outbound calls (S3
    /// destinations) may reach, as addresses or CIDR ranges separated by commas; every public
    /// address is allowed (`domain::outbound`).
    pub outbound: crate::domain::outbound::Policy,
    /// `TRAILKEEP_PUBLIC_URL` (default none): the console's address as people reach it
    /// (`https://audit.example.com`), for the links in notifications; without it they carry
    /// the path only.
    pub public_url: Option<String>,
    /// `TRAILKEEP_OUTBOUND_CA_FILE` (default none): PEM certificates trusted besides the
    /// system's by alert emails' SMTP connections (a server with a private CA).
    pub outbound_roots: Vec<Vec<u8>>,
    /// `TRAILKEEP_DELIVERY_LEASE_SECONDS` (default 120, 20 to 3600): how long a process's
    /// claim on a notification holds; one that died is sent again by another after this.
    pub delivery_lease: Duration,
}

use crate::service::export::ExportFloor;

/// Caps on long-running work a reader can start (`infra::http::slots`): past one, 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Two exports at once per reader, eight in all.
    pub exports_per_reader: usize,
    pub exports: usize,
    /// Eight live sockets per reader (tabs, dashboards), 1,000 in all.
    pub live_per_reader: usize,
    pub live: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            exports_per_reader: 2,
            exports: 8,
            live_per_reader: 8,
            live: 1000,
        }
    }
}

/// Where the log's signing key is, which log it names, how often it signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    pub key_file: std::path::PathBuf,
    pub origin: Option<String>,
    pub checkpoint_every: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            key_file: "trailkeep-log.key".into(),
            origin: None,
            checkpoint_every: Duration::from_secs(10),
        }
    }
}

impl LogConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let default = LogConfig::default();
        Ok(LogConfig {
            key_file: std::env::var_os("TRAILKEEP_KEY_FILE")
                .map(Into::into)
                .unwrap_or(default.key_file),
            origin: std::env::var("TRAILKEEP_LOG_ORIGIN")
                .ok()
                .filter(|o| !o.trim().is_empty()),
            checkpoint_every: seconds(
                "TRAILKEEP_CHECKPOINT_SECONDS",
                default.checkpoint_every,
                1..=86_400,
            )?,
        })
    }
}

/// Two pools, so that searching can never take the connections ingest needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbLimits {
    pub connections: u32,
    pub read_connections: u32,
    pub read_statement: Duration,
}

impl Default for DbLimits {
    fn default() -> Self {
        DbLimits {
            connections: 8,
            read_connections: 16,
            read_statement: Duration::from_secs(30),
        }
    }
}

/// Three days: a weekend, and a colleague who reads mail on Monday.
pub const DEFAULT_INVITATION_HOURS: u64 = 72;

/// Five minutes: more than clock drift and retries, less than a batch sent the next day.
pub const DEFAULT_LATE_RECORD_SECONDS: i64 = 300;

impl Default for Config {
    fn default() -> Self {
        Config {
            secure_cookies: false,
            trust_proxy: false,
            site_name: "Trailkeep".into(),
            recorded_late_after: chrono::Duration::seconds(DEFAULT_LATE_RECORD_SECONDS),
            invitation_valid: Duration::from_secs(DEFAULT_INVITATION_HOURS * 3600),
            sign_in: SignInLimits::default(),
            http: Limits::default(),
            db: DbLimits::default(),
            log: LogConfig::default(),
            ingest: IngestLimits::default(),
            export_floor: ExportFloor::default(),
            caps: Caps::default(),
            export_dir: "trailkeep-exports".into(),
            outbound: crate::domain::outbound::Policy::default(),
            public_url: None,
            outbound_roots: Vec::new(),
            delivery_lease: crate::service::alerts::deliverer::LEASE,
        }
    }
}

/// Whole seconds from the environment within `range`, or `default` when unset.
fn seconds(
    name: &'static str,
    default: Duration,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    number(name, default.as_secs(), range).map(Duration::from_secs)
}

/// A whole number from the environment within `range`, or `default` when unset.
fn number(
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::OutOfRange {
                name,
                value: v,
                unit: "a whole number",
                min: *range.start(),
                max: *range.end(),
                default,
            }),
        },
    }
}

impl Config {
    /// The Settings page's values until an admin first saves: the environment's, brought
    /// within the page's bounds.
    pub fn default_settings(&self) -> app::settings::Settings {
        use app::settings as s;
        let clamp = |v: u64, b: &s::Bound| u32::try_from(v).unwrap_or(u32::MAX).clamp(b.min, b.max);
        let name: String = self
            .site_name
            .trim()
            .chars()
            .filter(|c| !app::settings::breaks_a_line(*c))
            .take(s::SITE_NAME_MAX)
            .collect();
        app::settings::Settings {
            site_name: if name.trim().is_empty() {
                "Trailkeep".into()
            } else {
                name.trim().to_string()
            },
            lockout_failures: clamp(
                u64::try_from(self.sign_in.email_failures).unwrap_or(0),
                &s::LOCKOUT_FAILURES,
            ),
            lockout_minutes: clamp(
                u64::try_from(self.sign_in.window_minutes).unwrap_or(0),
                &s::LOCKOUT_MINUTES,
            ),
            session_hours: self.sign_in.session_hours,
            idle_minutes: DEFAULT_IDLE_MINUTES,
            invitation_hours: clamp(self.invitation_valid.as_secs() / 3600, &s::INVITATION_HOURS),
            require_two_factor: app::settings::TwoFactorRequirement::Nobody,
            late_record_seconds: clamp(
                u64::try_from(self.recorded_late_after.num_seconds()).unwrap_or(0),
                &s::LATE_RECORD_SECONDS,
            ),
        }
    }
}

/// Two hours unused: a long meeting, not a night.
pub const DEFAULT_IDLE_MINUTES: u32 = 120;

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let late = match std::env::var("TRAILKEEP_LATE_RECORD_SECONDS") {
            Err(_) => DEFAULT_LATE_RECORD_SECONDS,
            Ok(v) => match v.trim().parse::<i64>() {
                Ok(s) if (0..=365 * 86_400).contains(&s) => s,
                _ => {
                    return Err(ConfigError::OutOfRange {
                        name: "TRAILKEEP_LATE_RECORD_SECONDS",
                        value: v,
                        unit: "whole seconds",
                        min: 0,
                        max: 365 * 86_400,
                        default: DEFAULT_LATE_RECORD_SECONDS as u64,
                    })
                }
            },
        };
        let mut sign_in = SignInLimits::default();
        if let Ok(v) = std::env::var("TRAILKEEP_SIGNIN_IP_FAILURES") {
            sign_in.ip_failures = match v.trim().parse::<i64>() {
                Ok(n) if (1..=1_000_000).contains(&n) => n,
                _ => {
                    return Err(ConfigError::OutOfRange {
                        name: "TRAILKEEP_SIGNIN_IP_FAILURES",
                        value: v,
                        unit: "a whole number",
                        min: 1,
                        max: 1_000_000,
                        default: SignInLimits::default().ip_failures as u64,
                    })
                }
            };
        }
        let http_default = Limits::default();
        let http = Limits {
            max_connections: number(
                "TRAILKEEP_HTTP_MAX_CONNECTIONS",
                http_default.max_connections as u64,
                1..=1_000_000,
            )? as usize,
            header_read: seconds(
                "TRAILKEEP_HTTP_HEADER_SECONDS",
                http_default.header_read,
                1..=3600,
            )?,
            request: seconds(
                "TRAILKEEP_HTTP_REQUEST_SECONDS",
                http_default.request,
                1..=86_400,
            )?,
            write_stall: seconds(
                "TRAILKEEP_HTTP_WRITE_STALL_SECONDS",
                http_default.write_stall,
                1..=86_400,
            )?,
            grace: seconds(
                "TRAILKEEP_SHUTDOWN_GRACE_SECONDS",
                http_default.grace,
                0..=3600,
            )?,
        };
        let db_default = DbLimits::default();
        let db = DbLimits {
            connections: number(
                "TRAILKEEP_DB_CONNECTIONS",
                db_default.connections.into(),
                2..=1000,
            )? as u32,
            read_connections: number(
                "TRAILKEEP_DB_READ_CONNECTIONS",
                db_default.read_connections.into(),
                1..=1000,
            )? as u32,
            read_statement: seconds(
                "TRAILKEEP_READ_STATEMENT_SECONDS",
                db_default.read_statement,
                1..=86_400,
            )?,
        };
        let ingest_default = IngestLimits::default();
        let ingest = IngestLimits {
            per_minute: number(
                "TRAILKEEP_INGEST_EVENTS_PER_MINUTE",
                ingest_default.per_minute as u64,
                1..=100_000_000,
            )? as i64,
            per_day: number(
                "TRAILKEEP_INGEST_EVENTS_PER_DAY",
                ingest_default.per_day as u64,
                1..=100_000_000_000,
            )? as i64,
        };
        let floor_default = ExportFloor::default();
        let export_floor = ExportFloor {
            bytes_per_second: number(
                "TRAILKEEP_EXPORT_MIN_BYTES_PER_SECOND",
                floor_default.bytes_per_second,
                0..=1_000_000_000,
            )?,
            window: seconds(
                "TRAILKEEP_EXPORT_FLOOR_SECONDS",
                floor_default.window,
                1..=3600,
            )?,
        };
        Ok(Config {
            ingest,
            export_floor,
            http,
            db,
            log: LogConfig::from_env()?,
            secure_cookies: flag("TRAILKEEP_SECURE_COOKIES"),
            trust_proxy: flag("TRAILKEEP_TRUST_PROXY"),
            site_name: std::env::var("TRAILKEEP_SITE_NAME").unwrap_or_else(|_| "Trailkeep".into()),
            recorded_late_after: chrono::Duration::seconds(late),
            invitation_valid: Duration::from_secs(
                number(
                    "TRAILKEEP_INVITATION_HOURS",
                    DEFAULT_INVITATION_HOURS,
                    1..=720,
                )? * 3600,
            ),
            sign_in,
            caps: Caps::default(),
            export_dir: std::env::var_os("TRAILKEEP_EXPORT_DIR")
                .filter(|d| !d.is_empty())
                .map(Into::into)
                .unwrap_or_else(|| "trailkeep-exports".into()),
            outbound: crate::domain::outbound::Policy::parse(
                &std::env::var("TRAILKEEP_OUTBOUND_ALLOW").unwrap_or_default(),
            )?,
            public_url: public_url()?,
            outbound_roots: outbound_roots()?,
            delivery_lease: seconds(
                "TRAILKEEP_DELIVERY_LEASE_SECONDS",
                crate::service::alerts::deliverer::LEASE,
                20..=3600,
            )?,
        })
    }
}

fn public_url() -> Result<Option<String>, ConfigError> {
    let Some(value) = std::env::var("TRAILKEEP_PUBLIC_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    match url::Url::parse(value.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(Some(value.trim().trim_end_matches('/').to_string()))
        }
        _ => Err(ConfigError::Invalid {
            name: "TRAILKEEP_PUBLIC_URL",
            value,
            expected:
                "give the console's address as people open it, such as https://audit.example.com",
        }),
    }
}

fn outbound_roots() -> Result<Vec<Vec<u8>>, ConfigError> {
    let Some(path) = std::env::var_os("TRAILKEEP_OUTBOUND_CA_FILE").filter(|p| !p.is_empty())
    else {
        return Ok(Vec::new());
    };
    let text = std::fs::read(&path).map_err(|_| ConfigError::Invalid {
        name: "TRAILKEEP_OUTBOUND_CA_FILE",
        value: path.to_string_lossy().into_owned(),
        expected: "give a readable file of PEM certificates",
    })?;
    Ok(vec![text])
}

/// `DATABASE_URL`, required by every command that touches the database.
pub fn database_url() -> Result<String, ConfigError> {
    std::env::var("DATABASE_URL").map_err(|_| ConfigError::Missing {
        name: "DATABASE_URL",
        example: "postgres://user@127.0.0.1:5432/trailkeep",
    })
}
