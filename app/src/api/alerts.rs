//! Server functions of the Alerts page. Admins and compliance officers see the rules, the
//! channels, the alerts and the delivery log (and previews); only admins create, change,
//! mute, delete, test and redeliver. Checked here on every call.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::alerts::{
    AlertRuleSpec, AlertRuleView, AlertView, ChannelSpec, ChannelView, CreatedChannel,
    DeliveryView, RulePreview,
};
use crate::error::ConsoleError;

#[server(input = Json)]
pub async fn list_alert_rules() -> Result<Vec<AlertRuleView>, ConsoleError> {
    super::viewer().await?.alert_rules().await
}

/// Creates (`id: None`) or changes a rule.
#[server(input = Json)]
pub async fn save_alert_rule(
    id: Option<Uuid>,
    spec: AlertRuleSpec,
) -> Result<AlertRuleView, ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.save_alert_rule(by, id, spec).await
}

#[server(input = Json)]
pub async fn delete_alert_rule(id: Uuid) -> Result<(), ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.delete_alert_rule(by, id).await
}

/// Mutes a rule until `until` (none: unmutes).
#[server(input = Json)]
pub async fn mute_alert_rule(
    id: Uuid,
    until: Option<DateTime<Utc>>,
) -> Result<AlertRuleView, ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.mute_alert_rule(by, id, until).await
}

/// What `spec` would have decided over the last 7 days.
#[server(input = Json)]
pub async fn preview_alert_rule(spec: AlertRuleSpec) -> Result<RulePreview, ConsoleError> {
    super::viewer().await?.preview_alert_rule(spec).await
}

#[server(input = Json)]
pub async fn list_channels() -> Result<Vec<ChannelView>, ConsoleError> {
    super::viewer().await?.channels().await
}

/// Creates (`id: None`: a webhook's secret is in the answer, this once) or changes a channel.
#[server(input = Json)]
pub async fn save_channel(
    id: Option<Uuid>,
    spec: ChannelSpec,
) -> Result<CreatedChannel, ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.save_channel(by, id, spec).await
}

#[server(input = Json)]
pub async fn delete_channel(id: Uuid) -> Result<(), ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.delete_channel(by, id).await
}

/// Queues a test notification to a channel.
#[server(input = Json)]
pub async fn test_channel(id: Uuid) -> Result<Uuid, ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.test_channel(by, id).await
}

/// A page of the delivery log, and where the next one starts.
#[server(input = Json)]
pub async fn list_deliveries(
    status: Option<String>,
    alert: Option<Uuid>,
    after: Option<Uuid>,
) -> Result<(Vec<DeliveryView>, Option<Uuid>), ConsoleError> {
    super::viewer()
        .await?
        .deliveries(status, alert, after)
        .await
}

#[server(input = Json)]
pub async fn redeliver(id: Uuid) -> Result<(), ConsoleError> {
    let (backend, by) = super::admin().await?;
    backend.redeliver(by, id).await
}

/// Alerts, newest first: a rule's, or those that list entry `seq`.
#[server(input = Json)]
pub async fn list_alerts(
    rule: Option<Uuid>,
    seq: Option<i64>,
) -> Result<Vec<AlertView>, ConsoleError> {
    super::viewer().await?.alerts(rule, seq).await
}
