//! The machine held to a reference that knows nothing of its shortcuts: time in whole seconds,
//! stepped one second at a time, every condition recounted from every match at each step.
//! Random logs (bursts, ties at one instant, quiet spells, several groups) and random rules must
//! give the same decisions, however often the machine is told that time moved on.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::machine::{Decision, DecisionKind, Machine, MachineState, Match};
use super::rule::{Condition, Threshold};

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).expect("in range")
}

/// `(second, kind, group)` of each decision before `end`, in a stable order.
type Seen = Vec<(i64, &'static str, Option<String>)>;

fn seen(ds: &[Decision], end: i64) -> Seen {
    let mut out: Seen = ds
        .iter()
        .filter(|d| d.at < at(end))
        .map(|d| {
            let kind = match d.kind {
                DecisionKind::Fired { .. } => "fired",
                DecisionKind::Resolved { .. } => "resolved",
                DecisionKind::Batch { .. } => "batch",
            };
            ((d.at - at(0)).num_seconds(), kind, d.group.clone())
        })
        .collect();
    out.sort();
    out
}

/// Runs the machine over `matches` (`(second, group)`, in order), telling it that time moved
/// on at each second of `ticks` as well, then up to `end`.
fn machine(cond: &Condition, matches: &[(i64, Option<String>)], ticks: &[i64], end: i64) -> Seen {
    let mut m = Machine::new(cond.clone(), MachineState::new(cond, at(0)));
    let mut out = Vec::new();
    let mut ticks = ticks.to_vec();
    ticks.sort();
    let mut ti = 0;
    for (seq, (s, group)) in matches.iter().enumerate() {
        while ti < ticks.len() && ticks[ti] <= *s {
            out.extend(m.advance(at(ticks[ti])));
            ti += 1;
        }
        out.extend(m.on_match(&Match {
            seq: seq as i64,
            at: at(*s),
            group: group.clone(),
        }));
    }
    out.extend(m.advance(at(end)));
    seen(&out, end)
}

/// The same, stepping one second at a time and recounting.
fn reference(cond: &Condition, matches: &[(i64, Option<String>)], end: i64) -> Seen {
    let mut out: Seen = Vec::new();
    match cond {
        Condition::Threshold(t) => {
            let (w, p, c) = (
                t.window.num_seconds(),
                t.pending.num_seconds(),
                t.cooldown.num_seconds(),
            );
            let mut groups: BTreeMap<Option<String>, Vec<i64>> = BTreeMap::new();
            for (s, g) in matches {
                groups.entry(g.clone()).or_default().push(*s);
            }
            for (g, times) in groups {
                #[derive(Clone, Copy)]
                enum St {
                    Ok,
                    Pending(i64),
                    Firing,
                    Quieting(i64),
                }
                let mut st = St::Ok;
                for now in 0..end {
                    let count = times.iter().filter(|m| now - w < **m && **m <= now).count();
                    let cond = count >= t.at_least as usize;
                    let mut fire = |st: &mut St| {
                        out.push((now, "fired", g.clone()));
                        *st = St::Firing;
                    };
                    match st {
                        St::Ok if cond => {
                            st = St::Pending(now);
                            if p == 0 {
                                fire(&mut st);
                            }
                        }
                        St::Ok => {}
                        St::Pending(_) if !cond => st = St::Ok,
                        St::Pending(since) if now >= since + p => fire(&mut st),
                        St::Pending(_) => {}
                        St::Firing if !cond => {
                            st = St::Quieting(now);
                            if c == 0 {
                                out.push((now, "resolved", g.clone()));
                                st = St::Ok;
                            }
                        }
                        St::Firing => {}
                        St::Quieting(_) if cond => st = St::Firing,
                        St::Quieting(since) if now >= since + c => {
                            out.push((now, "resolved", g.clone()));
                            st = St::Ok;
                        }
                        St::Quieting(_) => {}
                    }
                }
            }
        }
        Condition::EveryMatch { batch } => {
            let b = batch.num_seconds();
            let mut open: Option<i64> = None;
            for (s, _) in matches {
                if let Some(since) = open {
                    if since + b <= *s {
                        out.push((since + b, "batch", None));
                        open = None;
                    }
                }
                open.get_or_insert(*s);
            }
            if let Some(since) = open {
                out.push((since + b, "batch", None));
            }
        }
        Condition::Absence { window } => {
            let w = window.num_seconds();
            let (mut since, mut fired) = (0, false);
            for now in 0..end {
                if matches.iter().any(|(s, _)| *s == now) {
                    if fired {
                        out.push((now, "resolved", None));
                    }
                    (since, fired) = (now, false);
                } else if !fired && now >= since + w {
                    out.push((now, "fired", None));
                    fired = true;
                }
            }
        }
    }
    out.retain(|d| d.0 < end);
    out.sort();
    out
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        (0i64..20).prop_map(|b| Condition::EveryMatch {
            batch: TimeDelta::seconds(b)
        }),
        (1u32..6, 1i64..40, 0i64..15, 0i64..25, any::<bool>()).prop_map(|(n, w, p, c, g)| {
            Condition::Threshold(Threshold {
                at_least: n,
                window: TimeDelta::seconds(w),
                group_by: g.then_some(super::rule::GroupBy::Ip),
                pending: TimeDelta::seconds(p),
                cooldown: TimeDelta::seconds(c),
            })
        }),
        (1i64..40).prop_map(|w| Condition::Absence {
            window: TimeDelta::seconds(w)
        }),
    ]
}

/// Bursts and quiet spells: gaps of 0 (ties), a few seconds, or long.
fn log() -> impl Strategy<Value = Vec<(i64, u8)>> {
    proptest::collection::vec((prop_oneof![Just(0i64), 1i64..4, 10i64..60], 0u8..3), 0..60)
}

/// The matches a log of gaps makes: `(second, group)`, grouped by address when the rule groups.
fn timeline(cond: &Condition, gaps: &[(i64, u8)]) -> Vec<(i64, Option<String>)> {
    let grouped = matches!(cond, Condition::Threshold(t) if t.group_by.is_some());
    let mut now = 0;
    gaps.iter()
        .map(|(gap, g)| {
            now += gap;
            (now, grouped.then(|| format!("10.0.0.{g}")))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_machine_decides_what_the_reference_decides(
        cond in condition(),
        gaps in log(),
        ticks in proptest::collection::vec(0i64..600, 0..20),
    ) {
        let matches = timeline(&cond, &gaps);
        let end = matches.last().map_or(0, |m| m.0) + 120;
        let want = reference(&cond, &matches, end);
        prop_assert_eq!(&machine(&cond, &matches, &[], end), &want, "no ticks");
        prop_assert_eq!(&machine(&cond, &matches, &ticks, end), &want, "ticks {:?}", ticks);
        let every: Vec<i64> = (0..end).collect();
        prop_assert_eq!(&machine(&cond, &matches, &every, end), &want, "a tick every second");
    }

    /// At its cap a machine forgets and leaves out groups exactly as a plain scan of every
    /// group would: same decisions (overflow reports included), same groups tracked, same
    /// state, whatever the ticks, and after a takeover (rebuilt from the stored state, with
    /// groups alerting, and the last window's entries replayed).
    #[test]
    fn the_caps_indexes_decide_what_a_plain_scan_decides(
        (n, w, p, c) in (1u32..5, 1i64..40, 0i64..15, 0i64..25),
        cap in 1usize..5,
        gaps in proptest::collection::vec((prop_oneof![Just(0i64), 1i64..4, 10i64..60], 0u8..9), 0..80),
        ticks in proptest::collection::vec(0i64..900, 0..20),
        restart in 0usize..80,
    ) {
        let cond = Condition::Threshold(Threshold {
            at_least: n,
            window: TimeDelta::seconds(w),
            group_by: Some(super::rule::GroupBy::Ip),
            pending: TimeDelta::seconds(p),
            cooldown: TimeDelta::seconds(c),
        });
        let machine = |plain| Machine::new(cond.clone(), MachineState::new(&cond, at(0))).capped(cap, plain);
        let (mut indexed, mut plain) = (machine(false), machine(true));
        let mut ticks = ticks.clone();
        ticks.sort();
        let mut now = 0;
        let mut ti = 0;
        let mut past: Vec<Match> = Vec::new();
        for (seq, (gap, g)) in gaps.iter().enumerate() {
            now += gap;
            if seq == restart {
                // Stored as the evaluator stores it, then rebuilt as a takeover rebuilds.
                prop_assert_eq!(indexed.advance(indexed.at()), plain.advance(plain.at()));
                let stored = indexed.state();
                prop_assert_eq!(&stored, &plain.state());
                let rebuilt = |plain| {
                    let mut m = Machine::new(cond.clone(), stored.clone()).capped(cap, plain);
                    for p in past.iter().filter(|p| p.at + TimeDelta::seconds(w) >= stored.at) {
                        m.replay(p);
                    }
                    m
                };
                (indexed, plain) = (rebuilt(false), rebuilt(true));
                prop_assert_eq!(indexed.groups_tracked(), plain.groups_tracked());
            }
            while ti < ticks.len() && ticks[ti] <= now {
                prop_assert_eq!(indexed.advance(at(ticks[ti])), plain.advance(at(ticks[ti])));
                ti += 1;
            }
            let m = Match { seq: seq as i64, at: at(now), group: Some(format!("10.0.0.{g}")) };
            prop_assert_eq!(indexed.on_match(&m), plain.on_match(&m), "match {}", seq);
            prop_assert_eq!(indexed.groups_tracked(), plain.groups_tracked());
            prop_assert!(indexed.groups_tracked() <= cap);
            prop_assert_eq!(indexed.state(), plain.state());
            past.push(m);
        }
        prop_assert_eq!(indexed.advance(at(now + 120)), plain.advance(at(now + 120)));
        prop_assert_eq!(indexed.state(), plain.state());
    }

    /// An alert's entries are exactly the matches of its group from its first to its last:
    /// what lets an entry find every alert it is part of, not only those listing it.
    #[test]
    fn an_alerts_entries_span_from_its_first_to_its_last(cond in condition(), gaps in log()) {
        let matches = timeline(&cond, &gaps);
        let now = matches.last().map_or(0, |m| m.0);
        let mut m = Machine::new(cond.clone(), MachineState::new(&cond, at(0)));
        let mut out = Vec::new();
        for (seq, (s, group)) in matches.iter().enumerate() {
            out.extend(m.on_match(&Match { seq: seq as i64, at: at(*s), group: group.clone() }));
        }
        out.extend(m.advance(at(now + 120)));
        for d in &out {
            let (count, seqs) = match &d.kind {
                DecisionKind::Fired { count, seqs, .. }
                | DecisionKind::Resolved { count, seqs, .. }
                | DecisionKind::Batch { count, seqs, .. } => (*count, seqs),
            };
            let Some(&first) = seqs.first() else {
                prop_assert_eq!(d.last_seq, None, "{:?}", d);
                continue;
            };
            let last = d.last_seq.expect("an alert with entries has a last one");
            let spanned = matches
                .iter()
                .enumerate()
                .filter(|(seq, (_, g))| (first..=last).contains(&(*seq as i64)) && *g == d.group)
                .count() as u64;
            prop_assert_eq!(spanned, count, "{:?}", d);
        }
    }
}

#[test]
fn a_burst_of_failed_sign_ins_is_one_alert_and_one_resolve() {
    // ≥ 5 in 10 min, held 1 min, quiet for 5 min before it resolves.
    let cond = Condition::Threshold(Threshold {
        at_least: 5,
        window: TimeDelta::minutes(10),
        group_by: None,
        pending: TimeDelta::minutes(1),
        cooldown: TimeDelta::minutes(5),
    });
    // 20 in the first minute, then 3 more 11 minutes later (within the cool-down).
    let mut matches: Vec<(i64, Option<String>)> = (0..20).map(|i| (i * 3, None)).collect();
    matches.extend((0..3).map(|i| (57 + 660 + i, None)));
    let end = 3600;
    let got = machine(&cond, &matches, &[], end);
    assert_eq!(got, reference(&cond, &matches, end));
    // The fifth at 12 s, held a minute: fired at 72 s. The count falls below five when the
    // sixteenth (45 s) leaves the window at 645 s; quiet for 5 min: resolved at 945 s.
    assert_eq!(
        got,
        vec![(72, "fired", None), (945, "resolved", None)],
        "one alert"
    );
}

#[test]
fn a_fired_alert_lists_the_entries_that_crossed_the_threshold() {
    let cond = Condition::Threshold(Threshold {
        at_least: 3,
        window: TimeDelta::minutes(1),
        group_by: None,
        pending: TimeDelta::zero(),
        cooldown: TimeDelta::zero(),
    });
    let mut m = Machine::new(cond.clone(), MachineState::new(&cond, at(0)));
    let mut out = Vec::new();
    for (seq, s) in [(7, 1), (8, 2), (9, 3), (10, 4)] {
        out.extend(m.on_match(&Match {
            seq,
            at: at(s),
            group: None,
        }));
    }
    out.extend(m.advance(at(200)));
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(matches!(
        &out[0].kind,
        DecisionKind::Fired { count: 3, seqs, .. } if seqs == &[7, 8, 9]
    ));
    assert!(matches!(
        &out[1].kind,
        DecisionKind::Resolved { count: 4, seqs, .. } if seqs == &[7, 8, 9, 10]
    ));
    assert_eq!((out[0].last_seq, out[1].last_seq), (Some(9), Some(10)));
    // The three newest are 2, 3 and 4 s: the count falls below three when 2 s leaves the
    // window, at 62 s.
    assert_eq!(out[1].at, at(62));
}

#[test]
fn a_restarted_machine_decides_as_one_that_ran_on() {
    let cond = Condition::Threshold(Threshold {
        at_least: 4,
        window: TimeDelta::seconds(30),
        group_by: Some(super::rule::GroupBy::Ip),
        pending: TimeDelta::seconds(5),
        cooldown: TimeDelta::seconds(20),
    });
    let matches: Vec<Match> = (0..40)
        .map(|i| Match {
            seq: i,
            at: at(i * 2 + (i / 10) * 25),
            group: Some(format!("ip{}", i % 2)),
        })
        .collect();
    let run = |stop: usize| {
        let mut m = Machine::new(cond.clone(), MachineState::new(&cond, at(0)));
        let mut out = Vec::new();
        for x in &matches[..stop] {
            out.extend(m.on_match(x));
        }
        out.extend(m.advance(m.at()));
        // Stored, then rebuilt from the state and the last window's entries.
        let state: MachineState =
            serde_json::from_value(serde_json::to_value(m.state()).unwrap()).unwrap();
        let mut m = Machine::new(cond.clone(), state);
        for x in &matches[..stop] {
            if x.at + TimeDelta::seconds(30) >= m.at() {
                m.replay(x);
            }
        }
        for x in &matches[stop..] {
            out.extend(m.on_match(x));
        }
        out.extend(m.advance(at(400)));
        out
    };
    let straight = run(0);
    assert!(straight.len() >= 4, "{straight:?}");
    for stop in 1..matches.len() {
        assert_eq!(run(stop), straight, "restarted after {stop} entries");
    }
}

#[test]
fn groups_over_the_cap_are_counted_and_reported() {
    let cond = Condition::Threshold(Threshold {
        at_least: 1,
        window: TimeDelta::hours(1),
        group_by: Some(super::rule::GroupBy::Ip),
        pending: TimeDelta::zero(),
        cooldown: TimeDelta::zero(),
    });
    let mut m = Machine::new(cond.clone(), MachineState::new(&cond, at(0)));
    let mut fired = 0;
    for i in 0..super::rule::MAX_GROUPS as i64 + 5 {
        fired += m
            .on_match(&Match {
                seq: i,
                at: at(i),
                group: Some(format!("g{i}")),
            })
            .len();
    }
    assert_eq!(
        fired,
        super::rule::MAX_GROUPS,
        "one alert per tracked group"
    );
    assert_eq!(m.state().overflow, 5);
    // After the hour the groups resolve and are forgotten; the next alert reports the five.
    m.advance(at(7200));
    let next = m.on_match(&Match {
        seq: 9999,
        at: at(7300),
        group: Some("late".into()),
    });
    assert!(
        matches!(
            &next[..],
            [Decision {
                kind: DecisionKind::Fired { overflow: 5, .. },
                ..
            }]
        ),
        "{next:?}"
    );
}

#[test]
fn a_flood_of_one_off_groups_does_not_keep_an_attacker_from_being_counted() {
    let cond = Condition::Threshold(Threshold {
        at_least: 3,
        window: TimeDelta::hours(1),
        group_by: Some(super::rule::GroupBy::Ip),
        pending: TimeDelta::zero(),
        cooldown: TimeDelta::zero(),
    });
    let mut m = Machine::new(cond.clone(), MachineState::new(&cond, at(0)));
    let mut seq = 0;
    let mut out = Vec::new();
    let mut feed = |m: &mut Machine, s: i64, ip: String| {
        seq += 1;
        m.on_match(&Match {
            seq,
            at: at(s),
            group: Some(ip),
        })
    };
    // The cap filled with one-off addresses, then three from the attacker within a minute.
    for i in 0..super::rule::MAX_GROUPS as i64 {
        out.extend(feed(&mut m, 1, format!("2001:db8::{i:x}")));
    }
    for s in [10, 20, 30] {
        out.extend(feed(&mut m, s, "203.0.113.66".into()));
    }
    assert!(
        matches!(
            &out[..],
            [Decision {
                group: Some(g),
                kind: DecisionKind::Fired { count: 3, overflow: 1, .. },
                ..
            }] if g == "203.0.113.66"
        ),
        "{out:?}"
    );
    // Replayed after a restart, the last window never holds more than the cap.
    let mut r = Machine::new(cond.clone(), m.state());
    for i in 0..3 * super::rule::MAX_GROUPS as i64 {
        r.replay(&Match {
            seq: i,
            at: at(40),
            group: Some(format!("g{i}")),
        });
    }
    assert!(r.groups_tracked() <= super::rule::MAX_GROUPS);
}
