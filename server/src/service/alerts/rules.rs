//! Alert rules as people make them: a spec checked into a rule the evaluator can keep (every
//! bound of `domain::alerts::rule`), stored in one transaction with the entry that records it
//! (`alert_rule.created`, the rule as resource, its settings in `details`). A new rule watches
//! the entries appended after that one, however late the evaluator reads them.

use app::alerts::{AlertRuleSpec, RuleRefusal, RULE_NAME_MAX};
use app::filter::Filter;
use app::model::Source;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::super::acting::Acting;
use crate::domain::alerts::machine::MachineState;
use crate::domain::alerts::rule::{Condition, GroupBy, Severity, Threshold};
use crate::service::schedules::schedule_filter;
use crate::storage::alerts::{self as stored, RuleRow};
use crate::storage::entries;

/// Why a rule request changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{0}")]
    Refused(#[from] RuleRefusal),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<entries::AppendError> for RuleError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => RuleError::Db(e),
            other => {
                tracing::error!(error = %other, "bug: Trailkeep's own entry was not appended");
                RuleError::Db(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

fn secs(v: Option<u32>, what: &str) -> Result<TimeDelta, RuleRefusal> {
    v.map(|s| TimeDelta::seconds(i64::from(s)))
        .ok_or_else(|| RuleRefusal::Condition(format!("give the {what} in seconds")))
}

/// The condition a spec asks for, checked against the evaluator's bounds; numbers that do not
/// belong to the condition are refused rather than ignored.
pub fn condition(spec: &AlertRuleSpec) -> Result<Condition, RuleRefusal> {
    let unused = |names: &[(&str, bool)]| -> Result<(), RuleRefusal> {
        match names.iter().find(|(_, given)| *given) {
            Some((name, _)) => Err(RuleRefusal::Condition(format!(
                "{name} does not apply to a rule of condition {:?}: leave it out",
                spec.condition
            ))),
            None => Ok(()),
        }
    };
    let c = match spec.condition.as_str() {
        "every_match" => {
            unused(&[
                ("at_least", spec.at_least.is_some()),
                ("window_secs", spec.window_secs.is_some()),
                ("group_by", spec.group_by.is_some()),
                ("pending_secs", spec.pending_secs.is_some()),
                ("cooldown_secs", spec.cooldown_secs.is_some()),
            ])?;
            Condition::EveryMatch {
                batch: TimeDelta::seconds(i64::from(spec.batch_secs.unwrap_or(10))),
            }
        }
        "threshold" => {
            unused(&[("batch_secs", spec.batch_secs.is_some())])?;
            let group_by = match spec.group_by.as_deref() {
                None | Some("") => None,
                Some(g) => Some(GroupBy::parse(g).ok_or_else(|| {
                    RuleRefusal::Condition(format!(
                        "group_by is \"actor\", \"ip\", \"resource\" or \"source\", not {g:?}"
                    ))
                })?),
            };
            Condition::Threshold(Threshold {
                at_least: spec.at_least.ok_or_else(|| {
                    RuleRefusal::Condition("give at_least: how many entries fire the rule".into())
                })?,
                window: secs(spec.window_secs, "window")?,
                group_by,
                pending: TimeDelta::seconds(i64::from(spec.pending_secs.unwrap_or(0))),
                cooldown: TimeDelta::seconds(i64::from(spec.cooldown_secs.unwrap_or(0))),
            })
        }
        "absence" => {
            unused(&[
                ("batch_secs", spec.batch_secs.is_some()),
                ("at_least", spec.at_least.is_some()),
                ("group_by", spec.group_by.is_some()),
                ("pending_secs", spec.pending_secs.is_some()),
                ("cooldown_secs", spec.cooldown_secs.is_some()),
            ])?;
            Condition::Absence {
                window: secs(spec.window_secs, "window")?,
            }
        }
        other => {
            return Err(RuleRefusal::Condition(format!(
                "the condition is \"every_match\", \"threshold\" or \"absence\", not {other:?}"
            )))
        }
    };
    c.check()
        .map_err(|e| RuleRefusal::Condition(e.to_string()))?;
    Ok(c)
}

/// A stored rule's condition (the table's CHECKs keep the numbers whole).
pub fn condition_of(row: &RuleRow) -> Option<Condition> {
    let s = |v: Option<i32>| v.map(|v| TimeDelta::seconds(i64::from(v)));
    match row.condition.as_str() {
        "every_match" => Some(Condition::EveryMatch {
            batch: s(row.batch_secs)?,
        }),
        "threshold" => Some(Condition::Threshold(Threshold {
            at_least: u32::try_from(row.at_least?).ok()?,
            window: s(row.window_secs)?,
            group_by: match row.group_by.as_deref() {
                None => None,
                Some(g) => Some(GroupBy::parse(g)?),
            },
            pending: s(row.pending_secs)?,
            cooldown: s(row.cooldown_secs)?,
        })),
        "absence" => Some(Condition::Absence {
            window: s(row.window_secs)?,
        }),
        _ => None,
    }
}

/// A stored rule's filter (canonical, as stored).
pub fn filter_of(row: &RuleRow) -> Option<Filter> {
    Filter::parse(&row.filter).ok()
}

/// Checks `spec` into a row created at `now` by `by`.
fn row(spec: &AlertRuleSpec, by: &Acting, now: DateTime<Utc>) -> Result<RuleRow, RuleRefusal> {
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > RULE_NAME_MAX {
        return Err(RuleRefusal::Name);
    }
    let severity = Severity::parse(&spec.severity).ok_or(RuleRefusal::Severity)?;
    let filter = schedule_filter(&spec.filter)
        .map_err(|e| RuleRefusal::Filter(e.to_string()))?
        .to_query_string();
    let cond = condition(spec)?;
    let secs = |d: TimeDelta| Some(d.num_seconds() as i32);
    let mut r = RuleRow {
        id: Uuid::new_v4(),
        name: name.to_string(),
        severity: severity.as_str().to_string(),
        filter,
        condition: spec.condition.clone(),
        batch_secs: None,
        at_least: None,
        window_secs: None,
        group_by: None,
        pending_secs: None,
        cooldown_secs: None,
        muted_until: None,
        enabled: spec.enabled,
        state: serde_json::to_value(MachineState::new(&cond, now)).expect("state serialises"),
        version: 1,
        watch_seq: 0,
        created_by: by.label(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    match cond {
        Condition::EveryMatch { batch } => r.batch_secs = secs(batch),
        Condition::Threshold(t) => {
            r.at_least = Some(t.at_least as i32);
            r.window_secs = secs(t.window);
            r.group_by = t.group_by.map(|g| g.as_str().to_string());
            r.pending_secs = secs(t.pending);
            r.cooldown_secs = secs(t.cooldown);
        }
        Condition::Absence { window } => r.window_secs = secs(window),
    }
    Ok(r)
}

/// What an audit entry states of a rule.
fn settings(r: &RuleRow) -> Value {
    json!({
        "name": r.name,
        "severity": r.severity,
        "filter": r.filter,
        "condition": r.condition,
        "batch_secs": r.batch_secs,
        "at_least": r.at_least,
        "window_secs": r.window_secs,
        "group_by": r.group_by,
        "pending_secs": r.pending_secs,
        "cooldown_secs": r.cooldown_secs,
        "enabled": r.enabled,
    })
}

/// Creates a rule; it watches the entries appended after the one that records its creation
/// (`now`, the database's clock, starts its machine: an absence is counted from it).
pub async fn create(
    pool: &PgPool,
    spec: &AlertRuleSpec,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<RuleRow, RuleError> {
    let mut r = row(spec, by, now)?;
    let mut tx = pool.begin().await?;
    let mut event = by
        .event("alert_rule.created")
        .on("alert_rule", &r.id.to_string());
    event.record.details = json!({ "rule": settings(&r) });
    let appended = entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    // The rule's entries are those after the one that records it, whenever they are read.
    r.watch_seq = appended.first().map_or(0, |a| a.seq);
    stored::insert_rule(&mut tx, &r).await?;
    tx.commit().await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(condition: &str) -> AlertRuleSpec {
        AlertRuleSpec {
            name: "Failed sign-ins".into(),
            severity: "warning".into(),
            filter: "action=user.login_failed".into(),
            condition: condition.into(),
            batch_secs: None,
            at_least: None,
            window_secs: None,
            group_by: None,
            pending_secs: None,
            cooldown_secs: None,
            enabled: true,
        }
    }

    #[test]
    fn a_spec_becomes_a_condition_or_says_what_to_change() {
        let t = AlertRuleSpec {
            at_least: Some(5),
            window_secs: Some(600),
            group_by: Some("ip".into()),
            ..spec("threshold")
        };
        assert!(matches!(
            condition(&t),
            Ok(Condition::Threshold(Threshold {
                at_least: 5,
                group_by: Some(GroupBy::Ip),
                ..
            }))
        ));
        let refused = |s: AlertRuleSpec| condition(&s).unwrap_err().to_string();
        assert_eq!(
            refused(spec("threshold")),
            "give at_least: how many entries fire the rule"
        );
        assert!(refused(AlertRuleSpec {
            batch_secs: Some(5),
            ..t.clone()
        })
        .contains("batch_secs does not apply"));
        assert!(refused(AlertRuleSpec {
            group_by: Some("email".into()),
            ..t.clone()
        })
        .contains("\"actor\", \"ip\""));
        assert!(refused(AlertRuleSpec {
            window_secs: Some(10),
            ..t
        })
        .contains("between 1 min and 7 d"));
        assert!(refused(spec("sometimes")).contains("\"every_match\""));
        assert!(matches!(
            condition(&spec("every_match")),
            Ok(Condition::EveryMatch { .. })
        ));
        assert_eq!(refused(spec("absence")), "give the window in seconds");
    }
}
