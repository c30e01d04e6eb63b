//! The delivery log and the alerts as people read them: deliveries with every attempt
//! (filtered by status, channel, alert or rule, newest first, a page at a time), redelivery
//! of a dead one, and alerts with the console link to the entries that triggered them —
//! from a rule, or from one entry (the alerts that list it among their first entries).

use app::alerts::{AlertView, AttemptView, DeliveryView};
use app::model::Source;
use chrono::TimeDelta;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::deliverer::webhook_id;
use super::rules::filter_of_text;
use crate::domain::alerts::delivery::RetryPolicy;
use crate::domain::alerts::notice;
use crate::domain::alerts::rule::GroupBy;
use crate::service::acting::Acting;
use crate::storage::alerts::{self as stored_alerts, AlertFilter, ListedAlert};
use crate::storage::entries;
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
    let mut rows = stored_alerts::list_alerts(pool, f, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let views: Vec<AlertView> = rows.into_iter().map(|a| alert_view(a, base)).collect();
    let next = more.then(|| views.last().map(|v| v.id)).flatten();
    Ok((views, next))
}
