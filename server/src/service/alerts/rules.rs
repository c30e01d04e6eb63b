//! Alert rules as people make them: a spec checked into a rule the evaluator can keep (every
//! bound of `domain::alerts::rule`), stored in one transaction with the entry that records it
//! (`alert_rule.created`, the rule as resource, its settings in `details`). A new rule watches
//! the entries appended after that one, however late the evaluator reads them.

use app::alerts::{AlertRuleSpec, AlertRuleView, RuleRefusal, RULE_NAME_MAX};
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
use crate::storage::{entries, notifications};

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
    filter_of_text(&row.filter)
}

/// A stored rule's filter, from its text.
pub fn filter_of_text(text: &str) -> Option<Filter> {
    Filter::parse(text).ok()
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
    let mut rule = settings(&r);
    rule["channels"] = json!(spec.channels);
    event.record.details = json!({ "rule": rule });
    let appended = entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    // The rule's entries are those after the one that records it, whenever they are read.
    r.watch_seq = appended.first().map_or(0, |a| a.seq);
    stored::insert_rule(&mut tx, &r).await?;
    if !spec.channels.is_empty()
        && !notifications::set_rule_channels(&mut tx, r.id, &spec.channels).await?
    {
        return Err(RuleRefusal::Channel.into());
    }
    tx.commit().await?;
    Ok(r)
}

/// What the console and the API show of a rule (`channels`: the ids it notifies).
pub fn view(r: &RuleRow, channels: Vec<Uuid>, now: DateTime<Utc>) -> AlertRuleView {
    let (firing, pending) = serde_json::from_value::<MachineState>(r.state.clone())
        .map(|s| s.summary())
        .unwrap_or_default();
    let muted = r.muted_until.is_some_and(|m| m > now);
    let state = if !r.enabled {
        "disabled"
    } else if muted {
        "muted"
    } else if firing > 0 {
        "firing"
    } else if pending > 0 {
        "pending"
    } else {
        "ok"
    };
    let n = |v: Option<i32>| v.map(|v| v.max(0) as u32);
    AlertRuleView {
        id: r.id,
        name: r.name.clone(),
        severity: r.severity.clone(),
        filter: r.filter.clone(),
        condition: r.condition.clone(),
        batch_secs: n(r.batch_secs),
        at_least: n(r.at_least),
        window_secs: n(r.window_secs),
        group_by: r.group_by.clone(),
        pending_secs: n(r.pending_secs),
        cooldown_secs: n(r.cooldown_secs),
        enabled: r.enabled,
        channels,
        muted_until: r.muted_until.filter(|_| muted),
        state: state.into(),
        firing: firing as u32,
        pending: pending as u32,
        created_by: r.created_by.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Every rule not deleted, by name.
pub async fn list(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<AlertRuleView>, sqlx::Error> {
    let rules = stored::rules(pool).await?;
    let pairs = notifications::all_rule_channels(pool).await?;
    Ok(rules
        .iter()
        .map(|r| {
            let channels = pairs
                .iter()
                .filter(|(rule, _)| *rule == r.id)
                .map(|(_, c)| *c)
                .collect();
            view(r, channels, now)
        })
        .collect())
}

/// One rule (not deleted).
pub async fn get(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<AlertRuleView, RuleError> {
    let r = stored::rule(pool, id)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or(RuleRefusal::NotFound)?;
    let channels = notifications::rule_channels(pool, id).await?;
    Ok(view(&r, channels, now))
}

/// Whether `a` and `b` decide the same (a change of only its name, severity or channels keeps
/// what a rule's machine holds).
fn same_decisions(a: &RuleRow, b: &RuleRow) -> bool {
    (
        &a.filter,
        &a.condition,
        a.batch_secs,
        a.at_least,
        a.window_secs,
        &a.group_by,
        a.pending_secs,
        a.cooldown_secs,
        a.enabled,
    ) == (
        &b.filter,
        &b.condition,
        b.batch_secs,
        b.at_least,
        b.window_secs,
        &b.group_by,
        b.pending_secs,
        b.cooldown_secs,
        b.enabled,
    )
}

/// Changes a rule. A change of what it decides on (filter, condition, numbers, enabled)
/// starts it afresh from the entry that records the change: its machine's memory is dropped,
/// and an alert firing before is not resolved by it. A change of its name, severity or
/// channels keeps its state.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    spec: &AlertRuleSpec,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<AlertRuleView, RuleError> {
    let fresh = row(spec, by, now)?;
    let mut tx = pool.begin().await?;
    let old = stored::rule_for_update(&mut tx, id)
        .await?
        .ok_or(RuleRefusal::NotFound)?;
    let restart = !same_decisions(&old, &fresh);
    let mut r = RuleRow {
        id,
        created_by: old.created_by.clone(),
        created_at: old.created_at,
        muted_until: old.muted_until,
        version: old.version + i64::from(restart),
        state: if restart {
            fresh.state.clone()
        } else {
            old.state.clone()
        },
        watch_seq: old.watch_seq,
        ..fresh
    };
    let mut event = by
        .event("alert_rule.updated")
        .on("alert_rule", &id.to_string());
    let mut settings_now = settings(&r);
    settings_now["channels"] = json!(spec.channels);
    event.record.details = json!({
        "rule": settings_now,
        "before": settings(&old),
        "restarted": restart,
    });
    let appended = entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    if restart {
        r.watch_seq = appended.first().map_or(old.watch_seq, |a| a.seq);
    }
    stored::update_rule(&mut tx, &r).await?;
    if !notifications::set_rule_channels(&mut tx, id, &spec.channels).await? {
        return Err(RuleRefusal::Channel.into());
    }
    tx.commit().await?;
    Ok(view(&r, sorted(&spec.channels), now))
}

fn sorted(ids: &[Uuid]) -> Vec<Uuid> {
    let mut v = ids.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Deletes a rule: it decides nothing more; its alerts and deliveries stay.
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<(), RuleError> {
    let mut tx = pool.begin().await?;
    let mut r = stored::rule_for_update(&mut tx, id)
        .await?
        .ok_or(RuleRefusal::NotFound)?;
    r.deleted_at = Some(now);
    r.enabled = false;
    r.version += 1;
    r.updated_at = now;
    let mut event = by
        .event("alert_rule.deleted")
        .on("alert_rule", &id.to_string());
    event.record.details = json!({ "rule": settings(&r) });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    stored::update_rule(&mut tx, &r).await?;
    tx.commit().await?;
    Ok(())
}

/// The longest a rule may be muted for.
pub const MUTE_MAX: TimeDelta = TimeDelta::days(365);

/// Mutes a rule until `until` (`None`: unmutes): its alerts are still decided and recorded,
/// but not sent.
pub async fn mute(
    pool: &PgPool,
    id: Uuid,
    until: Option<DateTime<Utc>>,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<AlertRuleView, RuleError> {
    if let Some(u) = until {
        if u <= now || u > now + MUTE_MAX {
            return Err(RuleRefusal::Mute.into());
        }
    }
    let mut tx = pool.begin().await?;
    let mut r = stored::rule_for_update(&mut tx, id)
        .await?
        .ok_or(RuleRefusal::NotFound)?;
    r.muted_until = until;
    r.updated_at = now;
    let mut event = by
        .event("alert_rule.muted")
        .on("alert_rule", &id.to_string());
    event.record.details = json!({ "rule": { "name": r.name }, "muted_until": until });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    stored::update_rule(&mut tx, &r).await?;
    let channels = notifications::rule_channels(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(view(&r, channels, now))
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
            channels: vec![],
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
