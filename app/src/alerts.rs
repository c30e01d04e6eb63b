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
}

/// Why a request about alert rules changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleRefusal {
    Name,
    Severity,
    Filter(String),
    /// The condition or its numbers (the words say which and how).
    Condition(String),
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
            RuleRefusal::NotFound => f.write_str("no such alert rule"),
        }
    }
}

impl std::error::Error for RuleRefusal {}
