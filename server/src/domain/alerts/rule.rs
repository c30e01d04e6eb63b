//! What an alert rule is: a name, a severity, the shared `Filter` its entries must match (its
//! time window unused: a rule watches what is recorded from now on), and a condition. Every
//! bound a rule can set is checked here, so the evaluator's memory and work stay bounded
//! whatever an admin types: a threshold keeps at most `at_least` instants per group and at
//! most [`MAX_GROUPS`] groups.

use app::model::AuditEntry;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

/// Groups a grouped threshold rule tracks at once; matches of further groups are counted as
/// its overflow and reported with its next alert.
pub const MAX_GROUPS: usize = 1000;
/// The largest threshold (`at_least`).
pub const MAX_AT_LEAST: u32 = 10_000;
/// The longest window, pending period or cool-down (and how far back a restarted evaluator
/// rereads the log to rebuild its windows).
pub const MAX_WINDOW: TimeDelta = TimeDelta::days(7);
/// The shortest window: a minute.
pub const MIN_WINDOW: TimeDelta = TimeDelta::minutes(1);
/// The longest batch of an every-match rule.
pub const MAX_BATCH: TimeDelta = TimeDelta::minutes(5);
/// How many of an alert's entries a notification lists (the count says how many there are).
pub const FIRST_ENTRIES: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What a threshold rule counts separately: one alert per value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The actor's id.
    Actor,
    Ip,
    /// `type:id`.
    Resource,
    /// The API key (or `trailkeep`) that recorded the entry.
    Source,
}

impl GroupBy {
    pub const ALL: [GroupBy; 4] = [
        GroupBy::Actor,
        GroupBy::Ip,
        GroupBy::Resource,
        GroupBy::Source,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Actor => "actor",
            GroupBy::Ip => "ip",
            GroupBy::Resource => "resource",
            GroupBy::Source => "source",
        }
    }

    pub fn parse(s: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The entry's value of this field (`None`: it has none, e.g. no IP).
    pub fn value_of(self, entry: &AuditEntry) -> Option<String> {
        match self {
            GroupBy::Actor => Some(entry.actor.id.clone()),
            GroupBy::Ip => entry.ip.clone(),
            GroupBy::Resource => entry
                .resource
                .as_ref()
                .map(|r| format!("{}:{}", r.kind, r.id)),
            GroupBy::Source => entry.source.map(|s| s.to_string()),
        }
    }
}

/// When a rule notifies. Windows are of `recorded_at` (the server's clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Every matching entry, gathered for `batch` after the first so a burst is one message.
    EveryMatch { batch: TimeDelta },
    /// At least `at_least` matching entries within `window` (per group).
    Threshold(Threshold),
    /// No matching entry for `window`; resolves with the next one.
    Absence { window: TimeDelta },
}

impl Condition {
    /// How far back the log must be reread to rebuild this condition's memory.
    pub fn lookback(&self) -> TimeDelta {
        match self {
            Condition::EveryMatch { batch } => *batch,
            Condition::Threshold(t) => t.window,
            Condition::Absence { .. } => TimeDelta::zero(),
        }
    }
}

/// At least `at_least` matching entries within `window` (per group), held for `pending`
/// before it fires; it resolves once the count has stayed below for `cooldown` (a new burst
/// within the cool-down continues the same alert: one attack, one alert).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    pub at_least: u32,
    pub window: TimeDelta,
    pub group_by: Option<GroupBy>,
    pub pending: TimeDelta,
    pub cooldown: TimeDelta,
}

/// Why a rule's condition is refused; each says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("a threshold counts at least 1 and at most {MAX_AT_LEAST} entries; got {0}")]
    AtLeast(u32),
    #[error("{what} must be between {min} and {max}; got {got}")]
    Span {
        what: &'static str,
        min: String,
        max: String,
        got: String,
    },
}

fn words(d: TimeDelta) -> String {
    let s = d.num_seconds();
    match s {
        _ if s != 0 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        _ if s != 0 && s % 3600 == 0 => format!("{} h", s / 3600),
        _ if s != 0 && s % 60 == 0 => format!("{} min", s / 60),
        _ => format!("{s} s"),
    }
}

fn within(
    what: &'static str,
    d: TimeDelta,
    min: TimeDelta,
    max: TimeDelta,
) -> Result<(), RuleError> {
    if d < min || d > max {
        return Err(RuleError::Span {
            what,
            min: words(min),
            max: words(max),
            got: words(d),
        });
    }
    Ok(())
}

impl Condition {
    /// Refuses a condition whose bounds the evaluator could not keep.
    pub fn check(&self) -> Result<(), RuleError> {
        match self {
            Condition::EveryMatch { batch } => {
                within("the batch", *batch, TimeDelta::zero(), MAX_BATCH)
            }
            Condition::Threshold(t) => {
                if t.at_least == 0 || t.at_least > MAX_AT_LEAST {
                    return Err(RuleError::AtLeast(t.at_least));
                }
                within("the window", t.window, MIN_WINDOW, MAX_WINDOW)?;
                within(
                    "the pending period",
                    t.pending,
                    TimeDelta::zero(),
                    MAX_WINDOW,
                )?;
                within("the cool-down", t.cooldown, TimeDelta::zero(), MAX_WINDOW)
            }
            Condition::Absence { window } => within("the window", *window, MIN_WINDOW, MAX_WINDOW),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_refused_with_what_to_change() {
        let t = |at_least, window: i64| {
            Condition::Threshold(Threshold {
                at_least,
                window: TimeDelta::seconds(window),
                group_by: None,
                pending: TimeDelta::zero(),
                cooldown: TimeDelta::zero(),
            })
        };
        assert!(t(5, 600).check().is_ok());
        assert_eq!(t(0, 600).check(), Err(RuleError::AtLeast(0)));
        assert_eq!(t(10_001, 600).check(), Err(RuleError::AtLeast(10_001)));
        assert_eq!(
            t(5, 30).check().unwrap_err().to_string(),
            "the window must be between 1 min and 7 d; got 30 s"
        );
        assert!(Condition::Absence {
            window: TimeDelta::days(8)
        }
        .check()
        .is_err());
        assert!(Condition::EveryMatch {
            batch: TimeDelta::zero()
        }
        .check()
        .is_ok());
    }

    #[test]
    fn names_round_trip() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        for g in GroupBy::ALL {
            assert_eq!(GroupBy::parse(g.as_str()), Some(g));
        }
        assert_eq!(GroupBy::parse("Actor"), None);
    }
}
