//! The evaluator: exactly one process at a time (a lease on the `alert_evaluator` row) reads
//! the log after its cursor in `seq` order, feeds each rule's machine the entries its filter
//! matches (in memory, as live mode does: `LiveFilter`), and commits in one transaction the
//! cursor it reached, every rule's state, the alerts decided and the entries that record them
//! (`alert.fired`, `alert.resolved`) — only while its lease holds and the cursor is where it
//! started. So every entry is evaluated once: a step that loses its lease writes nothing, and
//! the next holder resumes from the stored cursor.
//!
//! Time moves on for the machines in two ways: with each entry (its `recorded_at`), and on a
//! tick, to the database's clock once every append in flight has committed and every entry
//! recorded before that instant has been read. A process that takes the lease over rebuilds
//! its machines from the stored states and the entries of the last window (at most
//! `rule::MAX_WINDOW`), reading no further back.
//!
//! The deliveries its alerts owe (one per channel of the rule, unless the rule is muted) are
//! written in the same transaction: a decision is never without them.
//!
//! The evaluator's own entries (`alert.*`, `webhook.*`, `email.*` recorded by Trailkeep) are
//! passed over:
//! a rule on them would feed on itself.

use std::collections::BTreeMap;
use std::time::Duration;

use app::filter::Filter;
use app::model::Source;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::rules::{condition_of, filter_of};
use crate::domain::alerts::delivery::RetryPolicy;
use crate::domain::alerts::machine::{Decision, DecisionKind, Machine, MachineState, Match};
use crate::domain::alerts::rule::{Condition, GroupBy};
use crate::domain::query::live_filter::LiveFilter;
use crate::domain::query::window::Bounds;
use crate::service::acting::Acting;
use crate::service::archive::first_recorded_at_or_after;
use crate::storage::alerts::{self as stored, NewAlert, Position, RuleRow, Step};
use crate::storage::{entries, live, notifications};

/// Entries read per step (each up to 64 KiB of details: a step holds at most some 32 MiB).
pub const BATCH: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Log(String),
}

impl From<entries::AppendError> for EvalError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => EvalError::Db(e),
            other => EvalError::Log(format!("the evaluator's entries were refused: {other}")),
        }
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stepped {
    /// Another process holds the lease.
    Standby,
    /// Entries read, alerts decided, and whether every committed entry has been read.
    Evaluated {
        entries: usize,
        alerts: usize,
        caught_up: bool,
    },
    /// The lease lapsed or was taken over during the step: nothing was written.
    LostLease,
}

/// A rule as the evaluator watches it.
struct Watched {
    version: i64,
    name: String,
    severity: String,
    /// The filter as stored (each alert keeps the one it was decided on).
    filter_text: String,
    filter: LiveFilter,
    group_by: Option<GroupBy>,
    machine: Machine,
    watch_seq: i64,
    muted_until: Option<DateTime<Utc>>,
    lookback: TimeDelta,
    threshold: bool,
    /// The state as last written, as JSON text: only a changed one is written again (text,
    /// not a `serde_json::Value`: a busy rule's state is kilobytes, compared every step).
    stored: String,
}

impl Watched {
    fn of(row: &RuleRow) -> Option<Watched> {
        let condition = condition_of(row)?;
        let filter = filter_of(row)?;
        let state: MachineState = serde_json::from_value(row.state.clone()).ok()?;
        // As a step writes it (jsonb reads back with its keys reordered): an unchanged state
        // compares equal and is not written again.
        let stored = serde_json::to_string(&state).expect("state serialises");
        Some(Watched {
            version: row.version,
            name: row.name.clone(),
            severity: row.severity.clone(),
            filter_text: row.filter.clone(),
            filter: watching(filter),
            group_by: match &condition {
                Condition::Threshold(t) => t.group_by,
                _ => None,
            },
            lookback: condition.lookback(),
            threshold: matches!(condition, Condition::Threshold(_)),
            machine: Machine::new(condition, state),
            watch_seq: row.watch_seq,
            muted_until: row.muted_until,
            stored,
        })
    }

    /// Whether a restart rereads the log for this rule (a threshold's window: the other
    /// conditions keep all they need in their state).
    fn replays(&self) -> bool {
        self.threshold
    }

    /// The entry as this rule's machine sees it, when the rule is about it.
    fn matched(&self, row: &live::LiveRow) -> Option<Match> {
        let e = &row.entry;
        if e.seq <= self.watch_seq {
            return None;
        }
        sees(&self.filter, self.group_by, row).map(|group| Match {
            seq: e.seq,
            at: e.recorded_at,
            group,
        })
    }
}

/// A rule's filter as the evaluator applies it: every time (a rule watches what is recorded).
pub fn watching(filter: Filter) -> LiveFilter {
    LiveFilter::new(
        Filter {
            time: app::filter::TimeWindow::All,
            ..filter
        },
        Bounds::default(),
    )
}

/// Whether a rule watching with `filter`, grouped by `group_by`, sees the entry of `row`, and
/// in which group: the one definition for the evaluator and for finding an entry's alerts.
pub fn sees(
    filter: &LiveFilter,
    group_by: Option<GroupBy>,
    row: &live::LiveRow,
) -> Option<Option<String>> {
    let e = &row.entry;
    (!own(row) && filter.matches(e, &row.search_text, e.recorded_at))
        .then(|| group_by.and_then(|g| g.value_of(e)))
}

/// What the process holding the lease keeps between steps: the machines, and where the
/// evaluator stood when they were last stored.
struct Held {
    at: Position,
    rules: BTreeMap<Uuid, Watched>,
}

/// The evaluator of one process.
pub struct Evaluator {
    pub pool: PgPool,
    /// This process (the lease's owner).
    pub owner: Uuid,
    pub lease: Duration,
    /// Entries read per step ([`BATCH`]).
    pub batch: i64,
    /// Attempts each delivery gets before it is dead (`RetryPolicy::attempts`).
    pub attempts: i32,
    held: Option<Held>,
}

/// Whether an entry is the evaluator's own record.
fn own(row: &live::LiveRow) -> bool {
    own_entry(&row.entry)
}

/// Whether an entry is alerting's own record (an alert, a delivery): no rule sees it, in the
/// evaluator and the preview alike.
pub fn own_entry(e: &app::model::AuditEntry) -> bool {
    e.source == Some(Source::Trailkeep)
        && ["alert.", "webhook.", "email."]
            .iter()
            .any(|p| e.action.starts_with(p))
}

impl Evaluator {
    pub fn new(pool: PgPool, owner: Uuid, lease: Duration) -> Self {
        Evaluator {
            pool,
            owner,
            lease,
            batch: BATCH,
            attempts: RetryPolicy::default().attempts as i32,
            held: None,
        }
    }

    /// One step: takes or renews the lease, reads up to [`BATCH`] entries after the cursor and
    /// commits what they decide; with `tick`, once every committed entry is read, also what
    /// time decides up to the database's clock.
    pub async fn step(&mut self, tick: bool) -> Result<Stepped, EvalError> {
        let result = self.try_step(tick).await;
        if !matches!(result, Ok(Stepped::Evaluated { .. })) {
            // What is in memory may be ahead of what is stored: rebuild from the store.
            self.held = None;
        }
        result
    }

    async fn try_step(&mut self, tick: bool) -> Result<Stepped, EvalError> {
        let Some(at) = stored::claim(&self.pool, self.owner, self.lease).await? else {
            return Ok(Stepped::Standby);
        };
        let now = if tick {
            let mut conn = self.pool.acquire().await?;
            Some(stored::settled_now(&mut conn).await?)
        } else {
            None
        };
        // The rows first, then the rules: a rule committed after the rows were read recorded
        // its creation after all of them (seq commits in order), so none of them is its.
        let rows = live::rows_after(&self.pool, at.cursor - 1, self.batch).await?;
        let head = if rows.is_empty() {
            live::head_seq(&self.pool).await?
        } else {
            -1
        };
        let rules = self.active_rules(at).await?;
        let mut held = match self.held.take() {
            Some(h) if h.at == at => h,
            _ => match self.rebuild(at, &rules).await? {
                Some(h) => h,
                None => return Ok(Stepped::LostLease),
            },
        };
        sync(&mut held, &rules);
        if held.rules.is_empty() {
            // No rule to feed: the cursor moves past what was read, or to the head.
            let to = rows
                .last()
                .map_or(head + 1, |r| r.entry.seq + 1)
                .max(at.cursor);
            if to > at.cursor {
                let step = Step {
                    owner: self.owner,
                    from: at,
                    to,
                    states: &[],
                    alerts: &[],
                };
                if !self.commit(&step, Vec::new()).await? {
                    return Ok(Stepped::LostLease);
                }
                held.at = Position {
                    cursor: to,
                    generation: at.generation + 1,
                };
            }
            self.held = Some(held);
            return Ok(Stepped::Evaluated {
                entries: (to - at.cursor) as usize,
                alerts: 0,
                caught_up: (rows.len() as i64) < self.batch,
            });
        }

        let caught_up = (rows.len() as i64) < self.batch;
        let mut decided: Vec<(Uuid, Decision)> = Vec::new();
        for row in rows.iter().filter(|r| !own(r)) {
            for (id, w) in held.rules.iter_mut() {
                if let Some(m) = w.matched(row) {
                    decided.extend(w.machine.on_match(&m).into_iter().map(|d| (*id, d)));
                }
            }
        }
        // Every group of every rule decided up to its latest instant (a match moves only its
        // own group on), or up to the clock once every entry before it is read: what is stored
        // is then rebuilt exactly from the last window's entries.
        let settled = now.filter(|_| caught_up);
        for (id, w) in held.rules.iter_mut() {
            let to = settled.unwrap_or(w.machine.at()).max(w.machine.at());
            decided.extend(w.machine.advance(to).into_iter().map(|d| (*id, d)));
        }
        let to = rows.last().map_or(at.cursor, |r| r.entry.seq + 1);
        if rows.is_empty() && decided.is_empty() {
            self.held = Some(held);
            return Ok(Stepped::Evaluated {
                entries: 0,
                alerts: 0,
                caught_up,
            });
        }

        let alerts: Vec<NewAlert> = decided
            .iter()
            .map(|(rule, d)| new_alert(*rule, d, &held.rules[rule]))
            .collect();
        let states: Vec<(Uuid, i64, String)> = held
            .rules
            .iter()
            .filter_map(|(id, w)| {
                let state = serde_json::to_string(&w.machine.state()).expect("state serialises");
                (state != w.stored).then_some((*id, w.version, state))
            })
            .collect();
        let step = Step {
            owner: self.owner,
            from: at,
            to,
            states: &states,
            alerts: &alerts,
        };
        let events: Vec<_> = alerts
            .iter()
            .map(|a| record(a, &held.rules[&a.rule_id]))
            .collect();
        if !self.commit(&step, events).await? {
            return Ok(Stepped::LostLease);
        }
        for (id, _, state) in states {
            if let Some(w) = held.rules.get_mut(&id) {
                w.stored = state;
            }
        }
        held.at = Position {
            cursor: to,
            generation: at.generation + 1,
        };
        self.held = Some(held);
        Ok(Stepped::Evaluated {
            entries: rows.len(),
            alerts: alerts.len(),
            caught_up,
        })
    }

    /// Commits `step` with the entries that record its alerts, in one transaction; `false`
    /// (nothing written) when the lease or the position is no longer this memory's.
    async fn commit(
        &self,
        step: &Step<'_>,
        events: Vec<crate::domain::entry::event::NewEvent>,
    ) -> Result<bool, EvalError> {
        let mut tx = self.pool.begin().await?;
        if !stored::lock_for(&mut tx, step).await? {
            return Ok(false);
        }
        stored::write_step(&mut tx, step).await?;
        let ids: Vec<Uuid> = step.alerts.iter().map(|a| a.id).collect();
        notifications::enqueue_alerts(&mut tx, &ids, self.attempts).await?;
        entries::append_in(&mut tx, Source::Trailkeep, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The machines of `rules` as stored, with the entries of their last window replayed
    /// (the lease renewed after each page); `None` when the lease was lost meanwhile.
    async fn rebuild(&self, at: Position, rules: &[RuleRow]) -> Result<Option<Held>, EvalError> {
        let mut held = Held {
            at,
            rules: BTreeMap::new(),
        };
        sync(&mut held, rules);
        let Some(from) = held
            .rules
            .values()
            .filter(|w| w.replays())
            .map(|w| w.machine.at() - w.lookback)
            .min()
        else {
            return Ok(Some(held));
        };
        let mut conn = self.pool.acquire().await?;
        let first = first_recorded_at_or_after(&mut conn, from, at.cursor)
            .await
            .map_err(|e| EvalError::Log(e.to_string()))?;
        drop(conn);
        let mut after = first - 1;
        while after + 1 < at.cursor {
            let limit = self.batch.min(at.cursor - 1 - after);
            let rows = live::rows_after(&self.pool, after, limit).await?;
            let Some(last) = rows.last() else { break };
            after = last.entry.seq;
            for row in rows.iter().filter(|r| !own(r)) {
                for w in held.rules.values_mut().filter(|w| w.replays()) {
                    if let Some(m) = w.matched(row) {
                        if m.at + w.lookback >= w.machine.at() {
                            w.machine.replay(&m);
                        }
                    }
                }
            }
            if stored::claim(&self.pool, self.owner, self.lease).await? != Some(at) {
                return Ok(None);
            }
        }
        Ok(Some(held))
    }

    /// Lets the lease go (the process is stopping).
    pub async fn release(&mut self) -> Result<(), sqlx::Error> {
        self.held = None;
        stored::release(&self.pool, self.owner).await
    }
}

impl Evaluator {
    /// The active rules; their states only where this process does not hold the rule's
    /// machine at `at` already (a new or changed rule, or all after a takeover).
    async fn active_rules(&self, at: Position) -> Result<Vec<RuleRow>, sqlx::Error> {
        let held = self.held.as_ref().filter(|h| h.at == at);
        let Some(held) = held else {
            return stored::active_rules(&self.pool).await;
        };
        let light = stored::active_rules_without_state(&self.pool).await?;
        let known = |r: &RuleRow| {
            held.rules
                .get(&r.id)
                .is_some_and(|w| w.version == r.version)
        };
        if light.iter().all(known) {
            return Ok(light);
        }
        // Read again whole (a rule changed in between is read as it is now, state and all;
        // one gone since is left out).
        let whole = stored::active_rules(&self.pool).await?;
        Ok(whole)
    }
}

/// Brings the watched rules in line with the active ones: new and changed rules start from
/// their stored state, removed ones are dropped, names and mutes follow.
fn sync(held: &mut Held, rules: &[RuleRow]) {
    held.rules
        .retain(|id, w| rules.iter().any(|r| r.id == *id && r.version == w.version));
    for r in rules {
        match held.rules.get_mut(&r.id) {
            Some(w) => {
                w.name = r.name.clone();
                w.severity = r.severity.clone();
                w.muted_until = r.muted_until;
            }
            None => match Watched::of(r) {
                Some(w) => {
                    held.rules.insert(r.id, w);
                }
                None => tracing::error!(rule = %r.id, "bug: a stored alert rule does not read"),
            },
        }
    }
}

fn new_alert(rule: Uuid, d: &Decision, w: &Watched) -> NewAlert {
    let (kind, since, count, seqs, overflow) = match &d.kind {
        DecisionKind::Fired {
            count,
            seqs,
            overflow,
            since,
        } => ("fired", *since, *count, seqs, *overflow),
        DecisionKind::Resolved {
            fired_at,
            count,
            seqs,
        } => ("resolved", *fired_at, *count, seqs, 0),
        DecisionKind::Batch { since, count, seqs } => ("batch", *since, *count, seqs, 0),
    };
    NewAlert {
        id: Uuid::new_v4(),
        rule_id: rule,
        kind,
        group_key: d.group.clone().unwrap_or_default(),
        at: d.at,
        since,
        count: count as i64,
        seqs: seqs.clone(),
        last_seq: d.last_seq,
        overflow: overflow as i64,
        muted: w.muted_until.is_some_and(|m| m > d.at),
        filter: w.filter_text.clone(),
        group_by: w.group_by.map(|g| g.as_str().to_string()),
    }
}

/// The entry that records an alert.
fn record(a: &NewAlert, w: &Watched) -> crate::domain::entry::event::NewEvent {
    let action = if a.kind == "resolved" {
        "alert.resolved"
    } else {
        "alert.fired"
    };
    let mut event = Acting::evaluator()
        .event(action)
        .on("alert_rule", &a.rule_id.to_string());
    event.record.details = json!({
        "alert": {
            "id": a.id,
            "rule": w.name,
            "severity": w.severity,
            "kind": a.kind,
            "group": (!a.group_key.is_empty()).then_some(&a.group_key),
            "at": a.at,
            "since": a.since,
            "count": a.count,
            "seqs": a.seqs,
            "overflow": a.overflow,
            "muted": a.muted,
        }
    });
    event
}

/// How often time moves on for the machines with no entry (pending periods, resolves,
/// absences, batches), and how often a process without the lease asks for it.
pub const TICK: Duration = Duration::from_secs(1);
/// How long a lease lasts unless renewed: another process takes over within this after the
/// evaluating one dies.
pub const LEASE: Duration = Duration::from_secs(10);
/// The longest wait after failed steps.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Until `stop` resolves: a step when an append is announced (the log's NOTIFY) and each
/// [`TICK`], reading on while entries remain; the lease is let go on the way out.
pub async fn run(mut evaluator: Evaluator, stop: impl std::future::Future<Output = ()>) {
    let work = async {
        let mut listener = None;
        let mut failures = 0u32;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if listener.is_none() {
                match live::listen(&evaluator.pool).await {
                    Ok(l) => listener = Some(l),
                    Err(e) => tracing::warn!(error = %e, "the alert evaluator cannot listen"),
                }
            }
            let timed = tokio::select! {
                _ = tick.tick() => true,
                got = async {
                    match listener.as_mut() {
                        Some(l) => l.try_recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if !matches!(got, Ok(Some(_))) {
                        listener = None;
                    }
                    false
                }
            };
            loop {
                match evaluator.step(timed).await {
                    Ok(Stepped::Evaluated {
                        caught_up: false, ..
                    }) => continue,
                    Ok(_) => failures = 0,
                    Err(e) => {
                        // Each retry rebuilds from the store: back off, up to a minute.
                        failures += 1;
                        let wait = Duration::from_secs(1 << failures.min(6)).min(MAX_BACKOFF);
                        tracing::warn!(error = %e, retry_in = ?wait, "an alert evaluation step failed");
                        tokio::time::sleep(wait).await;
                    }
                }
                break;
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = stop => {}
    }
    if let Err(e) = evaluator.release().await {
        tracing::warn!(error = %e, "the alert evaluator could not let its lease go");
    }
}
