//! "Would have fired N times in the last 7 days": a rule's spec run over the log's history by
//! the same machine the evaluator uses (`domain::alerts::machine`), fed the entries its filter
//! matches (selected by the same SQL as searches and exports) in `seq` order with their
//! `recorded_at`, then advanced to now. Nothing is stored. Bounded: a filter matching more
//! than [`MATCH_MAX`] entries in the period is refused with words saying so, never cut short.

use app::alerts::{AlertRuleSpec, RulePreview, RuleRefusal};
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use super::rules::{condition, RuleError};
use crate::domain::alerts::machine::{Decision, DecisionKind, Machine, MachineState, Match};
use crate::domain::alerts::rule::Condition;
use crate::service::archive::first_recorded_at_or_after;
use crate::service::schedules::schedule_filter;
use crate::storage::entries;
use crate::storage::query::export::range_page;

/// How far back a preview looks.
pub const PERIOD: TimeDelta = TimeDelta::days(7);
/// The most matching entries a preview reads.
pub const MATCH_MAX: u64 = 1_000_000;
/// The instants a preview lists (the count says how many there were).
pub const TIMES_MAX: usize = 100;
/// Entries read at once (each up to 64 KiB of details: some 32 MiB at most).
const PAGE: i64 = 500;
/// Previews run at once in this process (each holds a page and a machine); more wait.
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// What `spec` would have decided over the [`PERIOD`] before `now`.
pub async fn preview(
    pool: &PgPool,
    reads: &PgPool,
    spec: &AlertRuleSpec,
    now: DateTime<Utc>,
) -> Result<RulePreview, RuleError> {
    let cond = condition(spec)?;
    let filter = schedule_filter(&spec.filter).map_err(|e| RuleRefusal::Filter(e.to_string()))?;
    let _running = RUNNING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let group_by = match &cond {
        Condition::Threshold(t) => t.group_by,
        _ => None,
    };
    let from = now - PERIOD;
    let end = entries::count_all(pool).await?;
    let mut conn = pool.acquire().await?;
    let start = first_recorded_at_or_after(&mut conn, from, end)
        .await
        .map_err(|e| RuleError::Db(sqlx::Error::Protocol(e.to_string())))?;
    drop(conn);
    let mut machine = Machine::new(cond.clone(), MachineState::new(&cond, from));
    let mut p = RulePreview {
        from,
        to: now,
        entries: 0,
        fired: 0,
        resolved: 0,
        batches: 0,
        times: Vec::new(),
    };
    let count = |decided: Vec<Decision>, p: &mut RulePreview| {
        for d in decided {
            match d.kind {
                DecisionKind::Fired { .. } => p.fired += 1,
                DecisionKind::Resolved { .. } => p.resolved += 1,
                DecisionKind::Batch { .. } => p.batches += 1,
            }
            if !matches!(d.kind, DecisionKind::Resolved { .. }) && p.times.len() < TIMES_MAX {
                p.times.push(d.at);
            }
        }
    };
    let mut next = start;
    while next < end {
        let page = range_page(reads, &filter, next, end, PAGE).await?;
        let Some(last) = page.last() else { break };
        next = last.seq + 1;
        for e in page.iter().filter(|e| !super::evaluator::own_entry(e)) {
            if e.recorded_at > now {
                continue;
            }
            p.entries += 1;
            if p.entries > MATCH_MAX {
                return Err(RuleRefusal::Filter(format!(
                    "the filter matches more than {MATCH_MAX} entries in the last 7 days: \
                     narrow it to preview the rule (it can still be saved)"
                ))
                .into());
            }
            let decided = machine.on_match(&Match {
                seq: e.seq,
                at: e.recorded_at,
                group: group_by.and_then(|g| g.value_of(e)),
            });
            count(decided, &mut p);
        }
    }
    count(machine.advance(now), &mut p);
    Ok(p)
}
