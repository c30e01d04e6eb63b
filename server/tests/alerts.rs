//! The alert evaluator on real PostgreSQL: entries appended through the real append path at
//! chosen instants (the owner moves the chain head's clock), evaluated in steps of seven
//! entries or five hundred, by one process or by two taking the lease over from each other
//! (handed over, or lapsed while the other slept). What is stored must be
//! exactly what the pure machine decides over the same log — nothing skipped, nothing twice —
//! and each alert is recorded in the log by Trailkeep.

mod common;

use std::time::Duration;

use app::alerts::AlertRuleSpec;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::domain::alerts::machine::{DecisionKind, Machine, MachineState, Match};
use trailkeep::service::alerts::evaluator::{Evaluator, Stepped};
use trailkeep::service::alerts::rules::condition_of;
use trailkeep::storage::alerts::{self as stored, AlertRow, RuleRow};
use uuid::Uuid;

use common::alerts::{clock, create, evaluator, failed, record, settle, spec};
use common::exports::{utc, World};

/// What the pure machine decides over the log for `rule`, up to `end`: (kind, group, at,
/// count, seqs), as the alerts table states them.
async fn reference(pool: &PgPool, rule: &RuleRow, end: DateTime<Utc>) -> Vec<AlertRow> {
    let condition = condition_of(rule).unwrap();
    let group_by = match &condition {
        trailkeep::domain::alerts::rule::Condition::Threshold(t) => t.group_by,
        _ => None,
    };
    let state: MachineState = serde_json::from_value(rule.state.clone()).unwrap();
    let mut m = Machine::new(condition.clone(), state);
    // The rule's filter is an action: the reference reads it straight from the table.
    let action = rule.filter.strip_prefix("action=").unwrap();
    let rows: Vec<(i64, DateTime<Utc>, Option<String>, String)> = sqlx::query_as(
        "SELECT seq, recorded_at, host(ip), actor_id FROM audit_entries \
         WHERE action = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(action)
    .bind(rule.watch_seq)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut decided = Vec::new();
    for (seq, at, ip, actor) in rows {
        let group = group_by.and_then(|g| match g {
            trailkeep::domain::alerts::rule::GroupBy::Ip => ip.clone(),
            trailkeep::domain::alerts::rule::GroupBy::Actor => Some(actor.clone()),
            _ => None,
        });
        decided.extend(m.on_match(&Match { seq, at, group }));
    }
    decided.extend(m.advance(end));
    let mut out: Vec<AlertRow> = decided
        .into_iter()
        .map(|d| {
            let (kind, since, count, seqs, overflow) = match d.kind {
                DecisionKind::Fired {
                    count,
                    seqs,
                    overflow,
                    since,
                } => ("fired", since, count, seqs, overflow),
                DecisionKind::Resolved {
                    fired_at,
                    count,
                    seqs,
                } => ("resolved", fired_at, count, seqs, 0),
                DecisionKind::Batch { since, count, seqs } => ("batch", since, count, seqs, 0),
            };
            AlertRow {
                id: Uuid::nil(),
                rule_id: rule.id,
                kind: kind.into(),
                group_key: d.group.unwrap_or_default(),
                at: d.at,
                since,
                count: count as i64,
                seqs,
                last_seq: d.last_seq,
                overflow: overflow as i64,
                muted: false,
                decided_through: 0,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.at, &a.group_key, &a.kind).cmp(&(b.at, &b.group_key, &b.kind)));
    out
}

/// The stored alerts without what only the store knows (id, cursor).
async fn stored_alerts(pool: &PgPool, rule: Uuid) -> Vec<AlertRow> {
    stored::alerts_of(pool, rule)
        .await
        .unwrap()
        .into_iter()
        .map(|a| AlertRow {
            id: Uuid::nil(),
            decided_through: 0,
            ..a
        })
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_burst_from_two_addresses_is_two_alerts_each_resolved_once(pool: PgPool) {
    let w = World::new(&pool).await;
    let t0 = utc("2027-04-01T10:00:00Z");
    let rule = create(
        &w,
        &AlertRuleSpec {
            at_least: Some(5),
            window_secs: Some(600),
            group_by: Some("ip".into()),
            pending_secs: Some(30),
            cooldown_secs: Some(300),
            ..spec("action=user.login_failed", "threshold")
        },
        t0,
    )
    .await;
    let mut e = evaluator(&w, 500);
    // 20 failed sign-ins in a minute, from two addresses; three from a third (under five).
    for i in 0..20 {
        let at = t0 + TimeDelta::seconds(3 * i + 1);
        let ip = if i % 2 == 0 {
            "203.0.113.7"
        } else {
            "198.51.100.9"
        };
        record(&w, at, vec![failed(ip)]).await;
    }
    record(
        &w,
        t0 + TimeDelta::seconds(70),
        vec![
            failed("192.0.2.1"),
            failed("192.0.2.1"),
            failed("192.0.2.1"),
        ],
    )
    .await;
    settle(&mut e).await;
    let fired = |a: &[AlertRow]| a.iter().filter(|a| a.kind == "fired").count();
    clock(&w, t0 + TimeDelta::seconds(80)).await;
    settle(&mut e).await;
    assert_eq!(fired(&stored_alerts(&pool, rule.id).await), 2);
    // An hour later: both resolved, once each.
    let end = t0 + TimeDelta::hours(1);
    clock(&w, end).await;
    settle(&mut e).await;
    settle(&mut e).await;
    let got = stored_alerts(&pool, rule.id).await;
    let kinds: Vec<(&str, &str)> = got
        .iter()
        .map(|a| (a.kind.as_str(), a.group_key.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("fired", "203.0.113.7"),
            ("fired", "198.51.100.9"),
            ("resolved", "203.0.113.7"),
            ("resolved", "198.51.100.9"),
        ],
        "{got:#?}"
    );
    // The fifth from 203.0.113.7 is the 9th sign-in (25 s); held 30 s: fired at 55 s, with
    // the five that crossed the threshold and the four more while it was pending.
    assert_eq!(got[0].at, t0 + TimeDelta::seconds(55));
    assert_eq!(got[0].count, 9);
    assert_eq!(got, reference(&pool, &rule, end).await);

    // Each is in the log, recorded by Trailkeep; the evaluator passed over its own entries.
    let recorded: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT action, source, details FROM audit_entries WHERE action LIKE 'alert.%' \
         ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(recorded.len(), 4, "{recorded:#?}");
    assert!(recorded.iter().all(|(_, source, _)| source == "trailkeep"));
    assert_eq!(recorded[0].0, "alert.fired");
    assert_eq!(recorded[0].2["alert"]["group"], "203.0.113.7");
    assert_eq!(recorded[3].0, "alert.resolved");
    let cursor = stored::cursor(&pool).await.unwrap();
    let next: i64 = sqlx::query_scalar("SELECT next_seq FROM chain_head")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(cursor, next, "every entry evaluated, its own included");
}

#[sqlx::test(migrations = "../migrations")]
async fn two_processes_taking_turns_decide_what_one_would_exactly_once(pool: PgPool) {
    let w = World::new(&pool).await;
    let t0 = utc("2027-05-01T00:00:00Z");
    let threshold = create(
        &w,
        &AlertRuleSpec {
            at_least: Some(4),
            window_secs: Some(120),
            group_by: Some("ip".into()),
            pending_secs: Some(10),
            cooldown_secs: Some(60),
            ..spec("action=user.login_failed", "threshold")
        },
        t0,
    )
    .await;
    let every = create(
        &w,
        &AlertRuleSpec {
            batch_secs: Some(20),
            ..spec("action=user.login_failed", "every_match")
        },
        t0,
    )
    .await;
    let absence = create(
        &w,
        &AlertRuleSpec {
            window_secs: Some(300),
            ..spec("action=user.login_failed", "absence")
        },
        t0,
    )
    .await;
    // Seven entries per step: every burst takes several steps, and so does a rebuild.
    let (mut a, mut b) = (evaluator(&w, 7), evaluator(&w, 7));
    // Bursts and silences over three hours, evaluated as they come by whichever process holds
    // the lease; the lease changes hands every few bursts.
    let mut at = t0;
    let mut seed = 7u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };
    for burst in 0..40 {
        let n = 1 + next() % 6;
        for _ in 0..n {
            at += TimeDelta::seconds((next() % 20) as i64);
            let ip = format!("10.0.0.{}", next() % 3);
            let events = (0..1 + next() % 3).map(|_| failed(&ip)).collect();
            record(&w, at, events).await;
        }
        at += TimeDelta::seconds((next() % 400) as i64);
        clock(&w, at).await;
        let (holder, other) = if (burst / 3) % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        if burst % 3 == 0 {
            // The other lets go; this one takes over and rebuilds from the store.
            other.release().await.unwrap();
            assert!(matches!(
                holder.step(false).await.unwrap(),
                Stepped::Evaluated { .. }
            ));
        }
        assert_eq!(other.step(true).await.unwrap(), Stepped::Standby);
        settle(holder).await;
    }
    let end = at + TimeDelta::hours(1);
    clock(&w, end).await;
    b.release().await.unwrap();
    settle(&mut a).await;
    settle(&mut a).await;
    for rule in [&threshold, &every, &absence] {
        let got = stored_alerts(&pool, rule.id).await;
        let want = reference(&pool, rule, end).await;
        assert!(
            !want.is_empty(),
            "{}: the log makes it decide",
            rule.condition
        );
        assert_eq!(got, want, "{}", rule.condition);
    }
}

/// A process whose lease lapsed while another evaluated (if only the clock: an absence fired
/// with no new entry) rebuilds from the store when it gets the lease back, rather than
/// deciding again from its memory: the alert is stored and recorded once.
#[sqlx::test(migrations = "../migrations")]
async fn a_process_back_from_a_lapsed_lease_does_not_decide_again(pool: PgPool) {
    let w = World::new(&pool).await;
    let t0 = utc("2027-06-01T00:00:00Z");
    let rule = create(
        &w,
        &AlertRuleSpec {
            window_secs: Some(300),
            ..spec("action=config.deployed", "absence")
        },
        t0,
    )
    .await;
    let mut a = Evaluator::new(w.writer.clone(), Uuid::new_v4(), Duration::from_millis(500));
    let mut b = evaluator(&w, 500);
    clock(&w, t0 + TimeDelta::seconds(10)).await;
    settle(&mut a).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    // a's lease has lapsed; b takes over and the silence passes its window.
    clock(&w, t0 + TimeDelta::seconds(400)).await;
    settle(&mut b).await;
    b.release().await.unwrap();
    settle(&mut a).await;
    settle(&mut a).await;
    let got = stored_alerts(&pool, rule.id).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].at, t0 + TimeDelta::seconds(300));
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE action = 'alert.fired'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(recorded, 1);
}

/// A group's value as long as the ingest API allows (a resource's type and id, 512 characters
/// each) is stored with its alert: one event cannot wedge the evaluator.
#[sqlx::test(migrations = "../migrations")]
async fn the_longest_group_value_an_event_can_carry_is_stored(pool: PgPool) {
    let w = World::new(&pool).await;
    let t0 = utc("2027-06-01T00:00:00Z");
    let rule = create(
        &w,
        &AlertRuleSpec {
            at_least: Some(1),
            window_secs: Some(60),
            group_by: Some("resource".into()),
            ..spec("action=doc.deleted", "threshold")
        },
        t0,
    )
    .await;
    let (kind, id) = ("t".repeat(512), "i".repeat(512));
    record(
        &w,
        t0 + TimeDelta::seconds(1),
        vec![json!({"action": "doc.deleted", "actor": {"id": "x"},
                    "resource": {"type": kind, "id": id}})],
    )
    .await;
    let mut e = evaluator(&w, 500);
    settle(&mut e).await;
    let got = stored_alerts(&pool, rule.id).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].group_key, format!("{kind}:{id}"));
}
