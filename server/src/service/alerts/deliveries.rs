//! The delivery log and the alerts as people read them: deliveries with every attempt
//! (filtered by status, channel, alert or rule, newest first, a page at a time), redelivery
//! of a dead one, and alerts with the console link to the entries that triggered them —
//! from a rule, or from one entry (the alerts it is one of the entries of: listed among
//! their first ones, or within their span and seen by their rule in their group).

use app::alerts::{AlertView, AttemptView, DeliveryView};
use app::model::Source;
use chrono::TimeDelta;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::deliverer::webhook_id;
use super::evaluator::{sees, watching};
use super::rules::filter_of_text;
use crate::domain::alerts::delivery::RetryPolicy;
use crate::domain::alerts::notice;
use crate::domain::alerts::rule::GroupBy;
use crate::service::acting::Acting;
use crate::storage::alerts::{self as stored_alerts, AlertFilter, ListedAlert};
use crate::storage::entries;
use crate::storage::live::{self, LiveRow};
use crate::storage::notifications::{self as stored, DeliveryFilter};

/// The most rows one page holds.
pub const PAGE_MAX: i64 = 200;

/// A page of deliveries, and the id to ask the next page after (none: this was the last).
pub async fn list(
    pool: &PgPool,
    f: &DeliveryFilter,
    limit: i64,
) -> Result<(Vec<DeliveryView>, Option<Uuid>), sqlx::Error> {
    let limit = limit.clamp(1, PAGE_MAX);
    let mut rows = stored::list_deliveries(pool, f, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.delivery.id).collect();
    let attempts = stored::attempts_of_many(pool, &ids).await?;
    let views: Vec<DeliveryView> = rows
        .into_iter()
        .map(|r| {
            let d = r.delivery;
            DeliveryView {
                id: d.id,
                webhook_id: webhook_id(d.id),
                alert_id: d.alert_id,
                rule_id: r.rule_id,
                rule_name: r.rule_name,
                channel_id: d.channel_id,
                channel_name: r.channel_name,
                channel_kind: r.channel_kind,
                next_at: (d.status == "pending").then_some(d.next_at),
                status: d.status,
                attempts: d.attempts.max(0) as u32,
                give_up_after: d.give_up_after.max(0) as u32,
                created_at: d.created_at,
                finished_at: d.finished_at,
                last_error: d.last_error,
                log: attempts
                    .iter()
                    .filter(|a| a.delivery_id == d.id)
                    .map(|a| AttemptView {
                        attempt: a.attempt.max(0) as u32,
                        at: a.at,
                        status_code: a.status_code.map(|c| c as u16),
                        error: a.error.clone(),
                        latency_ms: a.latency_ms.max(0) as u32,
                        next_at: a.next_at,
                    })
                    .collect(),
            }
        })
        .collect();
    let next = more.then(|| views.last().map(|v| v.id)).flatten();
    Ok((views, next))
}

/// Why a redelivery changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    #[error("no such delivery")]
    NotFound,
    #[error("only a dead delivery is redelivered: this one is {0}")]
    NotDead(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// Puts a dead delivery back in the queue (with a full set of attempts), sent with the same
/// `webhook-id`; recorded as `delivery.redelivered` by whoever asked.
pub async fn redeliver(pool: &PgPool, id: Uuid, by: &Acting) -> Result<(), RedeliverError> {
    let mut tx = pool.begin().await?;
    if !stored::redeliver(&mut tx, id, RetryPolicy::default().attempts as i32).await? {
        return match stored::delivery(&mut *tx, id).await? {
            None => Err(RedeliverError::NotFound),
            Some(d) => Err(RedeliverError::NotDead(d.status)),
        };
    }
    let d = stored::delivery(&mut *tx, id)
        .await?
        .ok_or(RedeliverError::NotFound)?;
    let mut event = by.event("delivery.redelivered");
    event = match d.alert_id {
        Some(a) => event.on("alert", &a.to_string()),
        None => event.on("notification_channel", &d.channel_id.to_string()),
    };
    event.record.details = json!({
        "delivery": { "id": id, "webhook_id": webhook_id(id), "channel": d.channel_id }
    });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event])
        .await
        .map_err(|e| match e {
            entries::AppendError::Db(e) => RedeliverError::Db(e),
            other => RedeliverError::Db(sqlx::Error::Protocol(other.to_string())),
        })?;
    tx.commit().await?;
    Ok(())
}

/// An alert as people read it, with the console link (`base`: the public address).
pub fn alert_view(a: ListedAlert, base: Option<&str>) -> AlertView {
    let group = (!a.alert.group_key.is_empty()).then(|| a.alert.group_key.clone());
    let window = a.window_secs.map(|w| TimeDelta::seconds(i64::from(w)));
    let (from, to) = notice::alert_span(&a.alert.kind, a.alert.since, a.alert.at, window);
    let filter = filter_of_text(&a.filter).unwrap_or_default();
    let link = notice::link(
        base,
        &notice::alert_filter(
            &filter,
            a.group_by.as_deref().and_then(GroupBy::parse),
            group.as_deref(),
            from,
            to,
        ),
    );
    AlertView {
        id: a.alert.id,
        rule_id: a.alert.rule_id,
        rule_name: a.rule_name,
        severity: a.severity,
        kind: a.alert.kind,
        group,
        at: a.alert.at,
        since: a.alert.since,
        count: a.alert.count,
        seqs: a.alert.seqs,
        overflow: a.alert.overflow,
        muted: a.alert.muted,
        link,
    }
}

/// A page of alerts, and the id to ask the next page after.
pub async fn alerts(
    pool: &PgPool,
    f: &AlertFilter,
    limit: i64,
    base: Option<&str>,
) -> Result<(Vec<AlertView>, Option<Uuid>), sqlx::Error> {
    let limit = limit.clamp(1, PAGE_MAX);
    let Some(seq) = f.seq else {
        let mut rows = stored_alerts::list_alerts(pool, f, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = more.then(|| rows.last().map(|a| a.alert.id)).flatten();
        return Ok((
            rows.into_iter().map(|a| alert_view(a, base)).collect(),
            next,
        ));
    };
    // One entry's alerts: the database finds those whose span holds it; the entry is one of
    // theirs when their rule sees it in their group (as the evaluator decided). Candidates are
    // read a page at a time until the page is full, they run out, or SPAN_READS pages were
    // read (then `next` goes on from the last one read: a page may be short, never final
    // while `next` is set).
    let entry = live::rows_after(pool, seq - 1, 1)
        .await?
        .into_iter()
        .find(|r| r.entry.seq == seq);
    let mut kept: Vec<AlertView> = Vec::new();
    let mut read = f.clone();
    for _ in 0..SPAN_READS {
        let mut rows = stored_alerts::list_alerts(pool, &read, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let last = rows.last().map(|a| a.alert.id);
        for a in rows {
            if kept.len() as i64 == limit {
                // Full: the next page starts after the last one kept.
                let after = kept.last().map(|v| v.id);
                return Ok((kept, after));
            }
            if a.alert.seqs.contains(&seq) || entry.as_ref().is_some_and(|e| one_of(&a, e)) {
                kept.push(alert_view(a, base));
            }
        }
        if !more {
            return Ok((kept, None));
        }
        read.after = last;
    }
    Ok((kept, read.after))
}

/// Pages of candidates one entry's alerts read at most per answer.
const SPAN_READS: usize = 10;

/// Whether the entry of `row` (within `a`'s span) is one of `a`'s entries: its rule sees it,
/// in `a`'s group.
fn one_of(a: &ListedAlert, row: &LiveRow) -> bool {
    let Some(filter) = filter_of_text(&a.filter) else {
        return false;
    };
    let group_by = a.group_by.as_deref().and_then(GroupBy::parse);
    sees(&watching(filter), group_by, row)
        .is_some_and(|group| group.unwrap_or_default() == a.alert.group_key)
}
