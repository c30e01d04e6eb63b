//! The one machine that decides when a rule fires and resolves. It is fed a rule's matching
//! entries in `seq` order (their `recorded_at` never goes back in that order) and told when
//! time has moved on with no entry (`advance`: the database's clock, once every entry recorded
//! before it has been read). Every decision carries the exact instant it belongs to, computed
//! from the entries and the rule — never from when the machine happened to be told — so the
//! same log gives the same decisions however often, or late, the evaluator ran: the preview
//! over history, the reference test and the live evaluator are this one code.
//!
//! Threshold memory is bounded: per group the last `at_least` instants (the count reaches
//! `at_least` within the window exactly when the `at_least`-th newest match is inside it), and
//! at most [`MAX_GROUPS`] groups. What is kept between runs ([`MachineState`]) is the phases,
//! the open batch, the absence clock and the overflow; the instants are rebuilt by replaying
//! the entries of the last window ([`Machine::replay`]).
//!
//! A rule grouped by a field with many values (resources, addresses) runs at its cap, where
//! each new group first forgets the quiet groups with nothing left in the window, then, if still
//! full, the quiet group matched longest ago. Two indexes keep that from visiting every group
//! for every match: the alerting groups (the only ones time can move) and the quiet ones by
//! their latest match. A test holds them to the plain scan they replace.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::rule::{Condition, Threshold, FIRST_ENTRIES, MAX_GROUPS};

/// A matching entry as the machine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The grouped field's value (`None`: the rule is not grouped, or the entry has none).
    pub group: Option<String>,
}

/// What a rule decided, at the instant it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub at: DateTime<Utc>,
    pub group: Option<String>,
    pub kind: DecisionKind,
    /// The last entry of the alert (`None`: it has none, an absence that fired). From the
    /// first of its `seqs` to this one, every match of the rule in the decision's group is one
    /// of its entries: how an entry finds the alerts it is part of beyond their first ones.
    #[serde(default)]
    pub last_seq: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecisionKind {
    /// The condition held (for a threshold: for its pending period). `count`: the matches of
    /// the episode so far; `seqs`: its first ones; `overflow`: matches of groups over the cap
    /// since the last report. An absence alert has no entries (`last_seen` is when the silence
    /// began).
    Fired {
        count: u64,
        seqs: Vec<i64>,
        overflow: u64,
        since: DateTime<Utc>,
    },
    /// The alert that fired at `fired_at` is over; `count`: all matches of its episode.
    Resolved {
        fired_at: DateTime<Utc>,
        count: u64,
        seqs: Vec<i64>,
    },
    /// An every-match rule's batch: `count` entries from `since`, the first `seqs`.
    Batch {
        since: DateTime<Utc>,
        count: u64,
        seqs: Vec<i64>,
    },
}

/// Where one group of a threshold rule stands (absent from the state: ok).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Over the threshold since `since`, waiting out the pending period.
    Pending {
        since: DateTime<Utc>,
        episode: Episode,
    },
    /// Fired at `fired_at`; still over the threshold.
    Firing {
        fired_at: DateTime<Utc>,
        episode: Episode,
    },
    /// Fired, and below the threshold since `since`: resolves after the cool-down.
    Quieting {
        fired_at: DateTime<Utc>,
        since: DateTime<Utc>,
        episode: Episode,
    },
}

/// The matches of one alert, from the one that opened it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub count: u64,
    pub seqs: Vec<i64>,
    /// The latest match (stored states from before it was kept have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<i64>,
}

impl Episode {
    fn add(&mut self, seq: i64) {
        self.count += 1;
        self.last = Some(seq);
        if self.seqs.len() < FIRST_ENTRIES {
            self.seqs.push(seq);
        }
    }
}

/// An every-match rule's open batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub since: DateTime<Utc>,
    pub episode: Episode,
}

/// An absence rule's clock: silent since `since`; `fired_at` once it fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub since: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
}

/// What is stored between runs (JSON in `alert_rules.state`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineState {
    /// How far time has been decided.
    pub at: DateTime<Utc>,
    /// Threshold groups that are not ok, by group key (`""`: no group).
    #[serde(default)]
    pub groups: BTreeMap<String, Phase>,
    #[serde(default)]
    pub batch: Option<Batch>,
    #[serde(default)]
    pub silence: Option<Silence>,
    /// Matches of groups over the cap not yet reported.
    #[serde(default)]
    pub overflow: u64,
}

impl MachineState {
    /// A rule that starts watching at `at` (created, or enabled).
    pub fn new(condition: &Condition, at: DateTime<Utc>) -> Self {
        MachineState {
            at,
            groups: BTreeMap::new(),
            batch: None,
            silence: matches!(condition, Condition::Absence { .. }).then_some(Silence {
                since: at,
                fired_at: None,
            }),
            overflow: 0,
        }
    }

    /// Whether anything is firing (the console's state), or pending.
    pub fn summary(&self) -> (usize, usize) {
        let firing = self
            .groups
            .values()
            .filter(|p| !matches!(p, Phase::Pending { .. }))
            .count()
            + usize::from(self.silence.as_ref().is_some_and(|s| s.fired_at.is_some()));
        let pending = self
            .groups
            .values()
            .filter(|p| matches!(p, Phase::Pending { .. }))
            .count();
        (firing, pending)
    }
}

#[derive(Debug, Default)]
struct Group {
    /// The newest matches (instant, seq; at most `at_least`), oldest first.
    ring: VecDeque<(DateTime<Utc>, i64)>,
    phase: Option<Phase>,
}

/// A rule's machine: its condition and its state.
#[derive(Debug)]
pub struct Machine {
    condition: Condition,
    at: DateTime<Utc>,
    groups: BTreeMap<String, Group>,
    batch: Option<Batch>,
    silence: Option<Silence>,
    overflow: u64,
    /// The groups with a phase (pending, firing, quieting): what time moves on.
    alerting: BTreeSet<String>,
    /// The other groups by their latest match (none left: first), oldest first: what the cap
    /// forgets.
    quiet: BTreeSet<(DateTime<Utc>, String)>,
    /// At most this many groups ([`MAX_GROUPS`]; smaller in tests).
    cap: usize,
    /// Tests: the plain scan over every group at the cap that the indexes replace.
    #[cfg(test)]
    plain: bool,
}

/// Where a quiet group stands in [`Machine::quiet`]: its latest match kept (a group with none
/// has nothing in any window and sorts first).
fn quiet_key(k: &str, g: &Group) -> (DateTime<Utc>, String) {
    (
        g.ring
            .back()
            .map_or(DateTime::<Utc>::MIN_UTC, |(at, _)| *at),
        k.to_string(),
    )
}

fn key(group: &Option<String>) -> String {
    group.clone().unwrap_or_default()
}

fn group_of(key: &str) -> Option<String> {
    (!key.is_empty()).then(|| key.to_string())
}

impl Machine {
    pub fn new(condition: Condition, state: MachineState) -> Self {
        Machine {
            alerting: state.groups.keys().cloned().collect(),
            quiet: BTreeSet::new(),
            cap: MAX_GROUPS,
            #[cfg(test)]
            plain: false,
            condition,
            at: state.at,
            groups: state
                .groups
                .into_iter()
                .map(|(k, phase)| {
                    (
                        k,
                        Group {
                            ring: VecDeque::new(),
                            phase: Some(phase),
                        },
                    )
                })
                .collect(),
            batch: state.batch,
            silence: state.silence,
            overflow: state.overflow,
        }
    }

    /// What to store. Store it after [`Machine::advance`] to the machine's own [`Machine::at`]
    /// (a match moves only its own group on): then every group is decided up to `at`, and the
    /// entries of the last window before it rebuild the machine exactly ([`Machine::replay`]).
    pub fn state(&self) -> MachineState {
        MachineState {
            at: self.at,
            groups: self
                .alerting
                .iter()
                .filter_map(|k| Some((k.clone(), self.groups.get(k)?.phase.clone()?)))
                .collect(),
            batch: self.batch.clone(),
            silence: self.silence.clone(),
            overflow: self.overflow,
        }
    }

    /// The same machine with room for `cap` groups, holding them with the plain scan (`plain`)
    /// or the indexes.
    #[cfg(test)]
    pub fn capped(mut self, cap: usize, plain: bool) -> Self {
        self.cap = cap;
        self.plain = plain;
        self
    }

    /// Takes group `k` out of the indexes: before it changes.
    fn unindex(&mut self, k: &str) {
        if let Some(g) = self.groups.get(k) {
            if g.phase.is_some() {
                self.alerting.remove(k);
            } else {
                self.quiet.remove(&quiet_key(k, g));
            }
        }
    }

    /// Puts group `k` back where its phase says: after it changed.
    fn index(&mut self, k: &str) {
        if let Some(g) = self.groups.get(k) {
            if g.phase.is_some() {
                self.alerting.insert(k.to_string());
            } else {
                self.quiet.insert(quiet_key(k, g));
            }
        }
    }

    /// How many groups a threshold rule tracks now (at most `rule::MAX_GROUPS`).
    pub fn groups_tracked(&self) -> usize {
        self.groups.len()
    }

    /// How far time has been decided.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Rebuilds a threshold's window from a match already evaluated before a restart (one of
    /// the last window, in `seq` order): no decision, only memory.
    pub fn replay(&mut self, m: &Match) {
        if let Condition::Threshold(t) = self.condition {
            let k = key(&m.group);
            // The cap holds here too (the live run counted what it left out).
            if !self.groups.contains_key(&k) && self.groups.len() >= self.cap {
                return;
            }
            self.unindex(&k);
            let g = self.groups.entry(k.clone()).or_default();
            push(&mut g.ring, (m.at, m.seq), t.at_least);
            self.index(&k);
        }
    }

    /// Time has reached `to` with no further match: every decision due by then.
    pub fn advance(&mut self, to: DateTime<Utc>) -> Vec<Decision> {
        let mut out = Vec::new();
        if to < self.at {
            return out;
        }
        match self.condition.clone() {
            Condition::EveryMatch { batch } => self.close_batch(batch, to, &mut out),
            Condition::Threshold(t) => {
                #[cfg(test)]
                if self.plain {
                    // Every group, the quiet ones too (time only drops their old matches).
                    let keys: Vec<String> = self.groups.keys().cloned().collect();
                    for k in keys {
                        self.unindex(&k);
                        self.advance_group(&k, to, t, &mut out);
                        self.index(&k);
                    }
                    out.sort_by_key(|d| d.at);
                    self.at = to;
                    return out;
                }
                // Only alerting groups have a transition to make; in key order, as before.
                let mut calmed = Vec::new();
                for k in &self.alerting {
                    let g = self.groups.get_mut(k).expect("indexed groups exist");
                    advance_group(g, k, to, t, &mut self.overflow, &mut out);
                    if g.phase.is_none() {
                        calmed.push(k.clone());
                    }
                }
                for k in calmed {
                    self.alerting.remove(&k);
                    self.index(&k);
                }
                out.sort_by_key(|d| d.at);
            }
            Condition::Absence { window } => {
                if let Some(s) = &mut self.silence {
                    // An entry at the deadline itself would end the silence in time.
                    if s.fired_at.is_none() && s.since + window < to {
                        let at = s.since + window;
                        s.fired_at = Some(at);
                        out.push(Decision {
                            at,
                            group: None,
                            last_seq: None,
                            kind: DecisionKind::Fired {
                                count: 0,
                                seqs: Vec::new(),
                                overflow: 0,
                                since: s.since,
                            },
                        });
                    }
                }
            }
        }
        self.at = to;
        out
    }

    /// A matching entry (in `seq` order): the decisions due up to it, and its own.
    pub fn on_match(&mut self, m: &Match) -> Vec<Decision> {
        let t = m.at.max(self.at);
        match self.condition.clone() {
            Condition::EveryMatch { batch } => {
                let mut out = Vec::new();
                self.close_batch(batch, t, &mut out);
                let b = self.batch.get_or_insert_with(|| Batch {
                    since: t,
                    episode: Episode::default(),
                });
                b.episode.add(m.seq);
                self.at = t;
                out
            }
            Condition::Threshold(p) => {
                let at_least = p.at_least;
                let k = key(&m.group);
                let mut out = Vec::new();
                if !self.groups.contains_key(&k) && self.groups.len() >= self.cap {
                    // Only at the cap: bring every group to `t` and forget those with nothing
                    // in the window.
                    out.extend(self.advance(t));
                    if !self.make_room(t - p.window) {
                        return out;
                    }
                }
                self.unindex(&k);
                self.advance_group(&k, t, p, &mut out);
                let g = self.groups.entry(k.clone()).or_default();
                push(&mut g.ring, (t, m.seq), at_least);
                let over = g.over(p, t);
                match &mut g.phase {
                    None if over => {
                        // The episode opens with the matches that crossed the threshold.
                        let mut episode = Episode::default();
                        for (_, seq) in &g.ring {
                            episode.add(*seq);
                        }
                        g.phase = Some(Phase::Pending { since: t, episode });
                    }
                    None => {}
                    Some(Phase::Pending { episode, .. }) | Some(Phase::Firing { episode, .. }) => {
                        episode.add(m.seq)
                    }
                    Some(Phase::Quieting {
                        fired_at, episode, ..
                    }) => {
                        episode.add(m.seq);
                        if over {
                            g.phase = Some(Phase::Firing {
                                fired_at: *fired_at,
                                episode: std::mem::take(episode),
                            });
                        }
                    }
                }
                // A pending period of zero fires at once.
                self.advance_group(&k, t, p, &mut out);
                self.index(&k);
                self.at = t;
                out
            }
            Condition::Absence { .. } => {
                let mut out = self.advance(t);
                if let Some(s) = &mut self.silence {
                    if let Some(fired_at) = s.fired_at {
                        out.push(Decision {
                            at: t,
                            group: None,
                            last_seq: Some(m.seq),
                            kind: DecisionKind::Resolved {
                                fired_at,
                                count: 1,
                                seqs: vec![m.seq],
                            },
                        });
                    }
                    *s = Silence {
                        since: t,
                        fired_at: None,
                    };
                }
                self.at = t;
                out
            }
        }
    }

    fn close_batch(&mut self, batch: TimeDelta, to: DateTime<Utc>, out: &mut Vec<Decision>) {
        if let Some(b) = &self.batch {
            if b.since + batch <= to {
                let b = self.batch.take().expect("open");
                out.push(Decision {
                    at: b.since + batch,
                    group: None,
                    last_seq: b.episode.last,
                    kind: DecisionKind::Batch {
                        since: b.since,
                        count: b.episode.count,
                        seqs: b.episode.seqs,
                    },
                });
            }
        }
    }

    /// Room for one more group at the cap (every group brought to the new match's instant
    /// already): the quiet groups with no match after `gone` (nothing left in the window) are
    /// forgotten; if that frees nothing, the quiet group matched longest ago, so a flood of
    /// one-off groups cannot keep a new one (an attacker's) from being counted; only when every
    /// tracked group is alerting is there no room (the match is left out). Either is reported
    /// as overflow with the next alert.
    fn make_room(&mut self, gone: DateTime<Utc>) -> bool {
        #[cfg(test)]
        if self.plain {
            return self.make_room_plainly();
        }
        while self.quiet.first().is_some_and(|(at, _)| *at < gone) {
            if let Some((_, k)) = self.quiet.pop_first() {
                self.groups.remove(&k);
            }
        }
        if self.groups.len() < self.cap {
            return true;
        }
        self.overflow += 1;
        match self.quiet.pop_first() {
            Some((_, k)) => {
                self.groups.remove(&k);
                true
            }
            None => false,
        }
    }

    /// [`Machine::make_room`] by visiting every group (rings dropped to the window already).
    #[cfg(test)]
    fn make_room_plainly(&mut self) -> bool {
        let forgotten: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| g.phase.is_none() && g.ring.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for k in forgotten {
            self.unindex(&k);
            self.groups.remove(&k);
        }
        if self.groups.len() < self.cap {
            return true;
        }
        self.overflow += 1;
        let quiet = self
            .groups
            .iter()
            .filter(|(_, g)| g.phase.is_none())
            .min_by_key(|(k, g)| (g.ring.back().map(|(at, _)| *at), *k))
            .map(|(k, _)| k.clone());
        match quiet {
            Some(q) => {
                self.unindex(&q);
                self.groups.remove(&q);
                true
            }
            None => false,
        }
    }

    /// [`advance_group`] for group `k`, if tracked (its index is the caller's).
    fn advance_group(&mut self, k: &str, to: DateTime<Utc>, t: Threshold, out: &mut Vec<Decision>) {
        if let Some(g) = self.groups.get_mut(k) {
            advance_group(g, k, to, t, &mut self.overflow, out);
        }
    }
}

/// Moves one threshold group through every transition decided by `to`: a fire at `to`
/// (more entries at the same instant only add to the count), a fall below the threshold
/// or a resolve only before `to` (an entry recorded at that very instant could still keep
/// the count up).
fn advance_group(
    g: &mut Group,
    k: &str,
    to: DateTime<Utc>,
    t: Threshold,
    overflow: &mut u64,
    out: &mut Vec<Decision>,
) {
    loop {
        match g.phase.take() {
            None => break,
            Some(Phase::Pending { since, episode }) => {
                let fire_at = since + t.pending;
                let drop = g.drop_at(t, since);
                if drop <= fire_at && drop < to {
                    g.phase = None;
                } else if fire_at < drop && fire_at <= to {
                    out.push(Decision {
                        at: fire_at,
                        group: group_of(k),
                        last_seq: episode.last,
                        kind: DecisionKind::Fired {
                            count: episode.count,
                            seqs: episode.seqs.clone(),
                            overflow: std::mem::take(overflow),
                            since,
                        },
                    });
                    g.phase = Some(Phase::Firing {
                        fired_at: fire_at,
                        episode,
                    });
                } else {
                    g.phase = Some(Phase::Pending { since, episode });
                    break;
                }
            }
            Some(Phase::Firing { fired_at, episode }) => {
                let drop = g.drop_at(t, fired_at);
                if drop < to {
                    g.phase = Some(Phase::Quieting {
                        fired_at,
                        since: drop.max(fired_at),
                        episode,
                    });
                } else {
                    g.phase = Some(Phase::Firing { fired_at, episode });
                    break;
                }
            }
            Some(Phase::Quieting {
                fired_at,
                since,
                episode,
            }) => {
                let resolve_at = since + t.cooldown;
                if resolve_at < to {
                    out.push(Decision {
                        at: resolve_at,
                        group: group_of(k),
                        last_seq: episode.last,
                        kind: DecisionKind::Resolved {
                            fired_at,
                            count: episode.count,
                            seqs: episode.seqs,
                        },
                    });
                } else {
                    g.phase = Some(Phase::Quieting {
                        fired_at,
                        since,
                        episode,
                    });
                    break;
                }
            }
        }
    }
    // Instants that left the window before `to` no longer count (one that leaves at `to`
    // is kept: its leaving may not be decided yet).
    while g.ring.front().is_some_and(|(at, _)| *at + t.window < to) {
        g.ring.pop_front();
    }
}

impl Group {
    /// Whether the count is at the threshold at `at` (every entry up to `at` pushed).
    fn over(&self, t: Threshold, at: DateTime<Utc>) -> bool {
        self.ring.len() == t.at_least as usize && self.ring[0].0 + t.window > at
    }

    /// When the count falls below the threshold: when the oldest kept instant leaves the
    /// window; `otherwise` when fewer are kept (it is below already).
    fn drop_at(&self, t: Threshold, otherwise: DateTime<Utc>) -> DateTime<Utc> {
        if self.ring.len() == t.at_least as usize {
            self.ring[0].0 + t.window
        } else {
            otherwise
        }
    }
}

fn push(ring: &mut VecDeque<(DateTime<Utc>, i64)>, at: (DateTime<Utc>, i64), at_least: u32) {
    ring.push_back(at);
    while ring.len() > at_least as usize {
        ring.pop_front();
    }
}
