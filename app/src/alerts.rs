//! Alert rules as the API and the console ask for them: what a new or changed rule is to be,
//! and why a request changed nothing (each refusal says how to fix it). The server checks the
//! numbers against the evaluator's bounds (`domain::alerts::rule`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest rule name.
pub const RULE_NAME_MAX: usize = 100;

/// What a new or changed alert rule is asked to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRuleSpec {
    pub name: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The audit log's filter, as in its URL (`action=user.login_failed`); its time range is
    /// not used: a rule watches what is recorded from now on.
    pub filter: String,
    /// `every_match`, `threshold` or `absence`.
    pub condition: String,
    /// every_match: how long after its first entry a batch is sent (0 to 300 s).
    #[serde(default)]
    pub batch_secs: Option<u32>,
    /// threshold: at least this many matching entries (1 to 10,000) ...
    #[serde(default)]
    pub at_least: Option<u32>,
    /// ... within this window (threshold and absence: 60 s to 7 days).
    #[serde(default)]
    pub window_secs: Option<u32>,
    /// threshold: one alert per `actor`, `ip`, `resource` or `source`.
    #[serde(default)]
    pub group_by: Option<String>,
    /// threshold: how long the count must hold before it fires (0 to 7 days).
    #[serde(default)]
    pub pending_secs: Option<u32>,
    /// threshold: how long the count must stay below before the alert resolves; a new burst
    /// within it continues the same alert (0 to 7 days).
    #[serde(default)]
    pub cooldown_secs: Option<u32>,
    pub enabled: bool,
    /// The notification channels it notifies (their ids).
    #[serde(default)]
    pub channels: Vec<uuid::Uuid>,
}

/// Why a request about alert rules changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleRefusal {
    Name,
    Severity,
    Filter(String),
    /// The condition or its numbers (the words say which and how).
    Condition(String),
    /// A channel named does not exist (or was deleted).
    Channel,
    /// A mute's end is not within the next 365 days.
    Mute,
    NotFound,
}

impl fmt::Display for RuleRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleRefusal::Name => {
                write!(f, "give the rule a name of 1 to {RULE_NAME_MAX} characters")
            }
            RuleRefusal::Severity => {
                f.write_str("the severity is \"info\", \"warning\" or \"critical\"")
            }
            RuleRefusal::Filter(w) | RuleRefusal::Condition(w) => f.write_str(w),
            RuleRefusal::Channel => f.write_str(
                "a channel given does not exist: give the ids of notification channels \
                 (GET /api/v1/notification-channels)",
            ),
            RuleRefusal::Mute => {
                f.write_str("mute until an instant within the next 365 days (null unmutes)")
            }
            RuleRefusal::NotFound => f.write_str("no such alert rule"),
        }
    }
}

impl std::error::Error for RuleRefusal {}

/// The longest channel name.
pub const CHANNEL_NAME_MAX: usize = 100;
/// The most addresses an email channel writes to.
pub const MAIL_TO_MAX: usize = 20;

/// What a new or changed notification channel is asked to be: a webhook or an email.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelSpec {
    pub name: String,
    /// `webhook` or `email`.
    pub kind: String,
    /// webhook: where it is sent (`https://…`; `http://` too).
    #[serde(default)]
    pub url: Option<String>,
    /// webhook: `standard` (Standard Webhooks JSON, the default) or `slack` (`{"text": …}`).
    #[serde(default)]
    pub body_format: Option<String>,
    /// email: the SMTP server's name or address ...
    #[serde(default)]
    pub smtp_host: Option<String>,
    /// ... its port (587 for STARTTLS, 465 for TLS, 25 plain by default) ...
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// ... and how it is reached: `starttls` (the default), `tls`, or `plain` (tests only).
    #[serde(default)]
    pub smtp_security: Option<String>,
    #[serde(default)]
    pub smtp_username: Option<String>,
    /// Write-only: never returned. On a change, leaving it out keeps the stored one.
    #[serde(default)]
    pub smtp_password: Option<String>,
    #[serde(default)]
    pub mail_from: Option<String>,
    #[serde(default)]
    pub mail_to: Vec<String>,
    /// A disabled channel is sent nothing (a receiver that answered `410 Gone` disables it).
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// Why a request about notification channels changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelRefusal {
    Name,
    Kind,
    /// A channel's kind does not change (a webhook stays a webhook).
    KindChange,
    /// The webhook's URL or format (the words say what and how).
    Webhook(String),
    /// The email's server, addresses or credentials (the words say which and how).
    Email(String),
    NotFound,
}

impl fmt::Display for ChannelRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelRefusal::Name => write!(
                f,
                "give the channel a name of 1 to {CHANNEL_NAME_MAX} characters"
            ),
            ChannelRefusal::Kind => f.write_str("the kind is \"webhook\" or \"email\""),
            ChannelRefusal::KindChange => f.write_str(
                "a channel's kind does not change: make a new channel of the other kind, and \
                 delete this one",
            ),
            ChannelRefusal::Webhook(w) | ChannelRefusal::Email(w) => f.write_str(w),
            ChannelRefusal::NotFound => f.write_str("no such notification channel"),
        }
    }
}

impl std::error::Error for ChannelRefusal {}

/// A rule as the API and the console show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRuleView {
    pub id: uuid::Uuid,
    pub name: String,
    pub severity: String,
    pub filter: String,
    pub condition: String,
    pub batch_secs: Option<u32>,
    pub at_least: Option<u32>,
    pub window_secs: Option<u32>,
    pub group_by: Option<String>,
    pub pending_secs: Option<u32>,
    pub cooldown_secs: Option<u32>,
    pub enabled: bool,
    pub channels: Vec<uuid::Uuid>,
    /// Notifications are held (alerts still recorded) until then.
    pub muted_until: Option<chrono::DateTime<chrono::Utc>>,
    /// `ok`, `pending`, `firing`, `muted` or `disabled`.
    pub state: String,
    /// Groups firing and pending now.
    pub firing: u32,
    pub pending: u32,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Mute a rule until an instant (`null`: unmute).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MuteRequest {
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// A channel as the API and the console show it: never a secret, and of a webhook's URL
/// only its origin (the URL may carry a token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelView {
    pub id: uuid::Uuid,
    pub name: String,
    /// `webhook` or `email`.
    pub kind: String,
    pub url_origin: Option<String>,
    pub body_format: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<String>,
    pub smtp_username: Option<String>,
    pub mail_from: Option<String>,
    pub mail_to: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled (a receiver's `410 Gone`), when it was.
    pub disabled_reason: Option<String>,
    /// While a rotated-out secret still signs: until when.
    pub previous_secret_until: Option<chrono::DateTime<chrono::Utc>>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A channel just made, with its webhook signing secret: shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedChannel {
    pub channel: ChannelView,
    /// `whsec_…` (webhooks): give it to the receiver; it is not shown again.
    pub secret: Option<String>,
}

/// A webhook's new signing secret: shown this once; the previous one signs too until
/// `previous_signs_until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RotatedSecret {
    pub secret: String,
    pub previous_signs_until: chrono::DateTime<chrono::Utc>,
}

/// One attempt to deliver a notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AttemptView {
    pub attempt: u32,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The receiver's HTTP status (webhooks), when it answered.
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u32,
    /// When the next attempt is due (none: delivered or given up).
    pub next_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One notification owed to one channel, and every attempt to send it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    pub id: uuid::Uuid,
    /// The `webhook-id` header (the same on every attempt: the receiver's idempotency key).
    pub webhook_id: String,
    /// The alert it notifies (none: a test notification).
    pub alert_id: Option<uuid::Uuid>,
    pub rule_id: Option<uuid::Uuid>,
    pub rule_name: Option<String>,
    pub channel_id: uuid::Uuid,
    pub channel_name: String,
    pub channel_kind: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: u32,
    pub give_up_after: u32,
    pub next_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub log: Vec<AttemptView>,
}

/// How many alerts the console lists at once (the newest; the API pages through all).
pub const ALERTS_SHOWN: usize = 50;

/// An alert the evaluator decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertView {
    pub id: uuid::Uuid,
    pub rule_id: uuid::Uuid,
    pub rule_name: String,
    pub severity: String,
    /// `fired`, `resolved` or `batch`.
    pub kind: String,
    pub group: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub since: chrono::DateTime<chrono::Utc>,
    pub count: i64,
    /// The first entries' seqs (at most ten).
    pub seqs: Vec<i64>,
    pub overflow: i64,
    pub muted: bool,
    /// The audit log's address showing the entries that triggered it.
    pub link: String,
}

/// What a rule would have decided over the last 7 days (computed by the evaluator's machine
/// from the log; nothing stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RulePreview {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// Matching entries read.
    pub entries: u64,
    /// Alerts fired (threshold, absence), resolved, and batches sent (every match).
    pub fired: u32,
    pub resolved: u32,
    pub batches: u32,
    /// When it fired or sent a batch (the first 100).
    pub times: Vec<chrono::DateTime<chrono::Utc>>,
}
