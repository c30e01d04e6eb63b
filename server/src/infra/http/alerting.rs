//! Alerting as the API configures it, for configuration as code: alert rules, notification
//! channels (a webhook's signing secret shown once, at creation and rotation), the alerts
//! decided, and the delivery log with redelivery. Changes need an admin (a signed-in admin, or
//! a key with scopes `admin` and `read`: a rule and a channel send entries out, which only a
//! reader may) and are each recorded in the log by the service; reading needs an admin or
//! compliance officer (or a key with scope `admin`).

use app::alerts::{
    AlertRuleSpec, AlertRuleView, AlertView, ChannelRefusal, ChannelSpec, ChannelView,
    CreatedChannel, DeliveryView, MuteRequest, RotatedSecret, RulePreview, RuleRefusal,
};
use axum::{
    extract::{Path, State},
    http::{Extensions, HeaderMap, StatusCode},
    Json,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    auth::{AlertAdmin, AlertViewer},
    client,
    error::{ApiError, ErrorBody, Refused},
    params::{JsonBody, Params},
    AppState,
};
use crate::service::accounts::Acting;
use crate::service::alerts::channels::{self, ChannelError};
use crate::service::alerts::deliveries::{self, RedeliverError, PAGE_MAX};
use crate::service::alerts::rules::{self, RuleError};
use crate::storage::alerts::AlertFilter;
use crate::storage::notifications::DeliveryFilter;

fn acting(state: &AppState, who: &AlertAdmin, headers: &HeaderMap, ext: &Extensions) -> Acting {
    let ip = client::ip(state, headers, ext);
    let agent = client::user_agent(headers);
    match who {
        AlertAdmin::User(user) => Acting::user(user, ip, agent),
        AlertAdmin::Key(key) => Acting::key(key, ip, agent),
    }
}

async fn now(state: &AppState) -> Result<DateTime<Utc>, ApiError> {
    crate::storage::exports::clock(&state.pool)
        .await
        .map_err(ApiError::database)
}

fn id_param(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::bad_request("id: must be a UUID").with_param("id"))
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Refused(RuleRefusal::NotFound) => {
                ApiError::new(StatusCode::NOT_FOUND, RuleRefusal::NotFound.to_string())
            }
            RuleError::Refused(r) => ApiError::bad_request(r.to_string()),
            RuleError::Db(e) => ApiError::database(e),
        }
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Refused(ChannelRefusal::NotFound) => {
                ApiError::new(StatusCode::NOT_FOUND, ChannelRefusal::NotFound.to_string())
            }
            ChannelError::Refused(r) => ApiError::bad_request(r.to_string()),
            ChannelError::NoSealKey | ChannelError::Unsealable(_) => {
                tracing::error!(error = %e, "a channel's secrets cannot be sealed or opened");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "this server cannot seal or open channel secrets (its signing key file); \
                     nothing was changed",
                )
            }
            ChannelError::Db(e) => ApiError::database(e),
        }
    }
}

fn seal(state: &AppState) -> Result<crate::domain::sealed::SealKey, ApiError> {
    state
        .channel_seal()
        .ok_or_else(|| ApiError::from(ChannelError::NoSealKey))
}

/// The alert rules, by name, with their state.
#[utoipa::path(
    get,
    path = "/api/v1/alert-rules",
    tag = "alerts",
    responses((status = 200, description = "Every rule not deleted", body = Vec<AlertRuleView>), Refused),
    security(("api_key" = []), ("session" = []))
)]
pub async fn list_rules(
    _: AlertViewer,
    State(state): State<AppState>,
) -> Result<Json<Vec<AlertRuleView>>, ApiError> {
    let now = now(&state).await?;
    Ok(Json(
        rules::list(&state.pool, now)
            .await
            .map_err(ApiError::database)?,
    ))
}

/// Creates a rule (recorded as `alert_rule.created`); it watches the entries recorded after.
#[utoipa::path(
    post,
    path = "/api/v1/alert-rules",
    tag = "alerts",
    request_body = AlertRuleSpec,
    responses((status = 201, description = "The rule", body = AlertRuleView), Refused),
    security(("api_key" = []), ("session" = []))
)]
pub async fn create_rule(
    who: AlertAdmin,
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    JsonBody(spec): JsonBody<AlertRuleSpec>,
) -> Result<(StatusCode, Json<AlertRuleView>), ApiError> {
    let by = acting(&state, &who, &headers, &ext);
    let now = now(&state).await?;
    let row = rules::create(&state.pool, &spec, &by, now).await?;
    let view = rules::get(&state.pool, row.id, now).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// What a rule would have decided over the last 7 days, computed from the log by the
/// evaluator's own machine (nothing is stored).
#[utoipa::path(
    post,
    path = "/api/v1/alert-rules/preview",
    tag = "alerts",
    request_body = AlertRuleSpec,
    responses((status = 200, description = "Alerts it would have fired", body = RulePreview), Refused),
    security(("api_key" = []), ("session" = []))
)]
pub async fn preview_rule(
    _: AlertViewer,
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<AlertRuleSpec>,
) -> Result<Json<RulePreview>, ApiError> {
    let now = now(&state).await?;
    Ok(Json(
        crate::service::alerts::preview::preview(&state.pool, &state.reads, &spec, now).await?,
    ))
}

/// One rule.
#[utoipa::path(
    get,
    path = "/api/v1/alert-rules/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "The rule's UUID")),
    responses(
        (status = 200, description = "The rule", body = AlertRuleView),
        (status = 404, description = "No such rule", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn get_rule(
    _: AlertViewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AlertRuleView>, ApiError> {
    let id = id_param(&id)?;
    let now = now(&state).await?;
    Ok(Json(rules::get(&state.pool, id, now).await?))
}

/// Changes a rule (`alert_rule.updated`): a change of what it decides on starts it afresh.
#[utoipa::path(
    put,
    path = "/api/v1/alert-rules/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "The rule's UUID")),
    request_body = AlertRuleSpec,
    responses(
        (status = 200, description = "The rule as changed", body = AlertRuleView),
        (status = 404, description = "No such rule", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn update_rule(
    who: AlertAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ext: Extensions,
    JsonBody(spec): JsonBody<AlertRuleSpec>,
) -> Result<Json<AlertRuleView>, ApiError> {
    let id = id_param(&id)?;
    let by = acting(&state, &who, &headers, &ext);
    let now = now(&state).await?;
    Ok(Json(rules::update(&state.pool, id, &spec, &by, now).await?))
}

/// Deletes a rule (`alert_rule.deleted`); its alerts and deliveries stay.
#[utoipa::path(
    delete,
    path = "/api/v1/alert-rules/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "The rule's UUID")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such rule", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn delete_rule(
    who: AlertAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ext: Extensions,
) -> Result<StatusCode, ApiError> {
    let id = id_param(&id)?;
    let by = acting(&state, &who, &headers, &ext);
    let now = now(&state).await?;
    rules::delete(&state.pool, id, &by, now).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mutes a rule until an instant, or unmutes it (`alert_rule.muted`): its alerts are still
/// decided and recorded, but not sent.
#[utoipa::path(
    put,
    path = "/api/v1/alert-rules/{id}/mute",
    tag = "alerts",
    params(("id" = String, Path, description = "The rule's UUID")),
    request_body = MuteRequest,
    responses(
        (status = 200, description = "The rule", body = AlertRuleView),
        (status = 404, description = "No such rule", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn mute_rule(
    who: AlertAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ext: Extensions,
    JsonBody(mute): JsonBody<MuteRequest>,
) -> Result<Json<AlertRuleView>, ApiError> {
    let id = id_param(&id)?;
    let by = acting(&state, &who, &headers, &ext);
    let now = now(&state).await?;
    Ok(Json(
        rules::mute(&state.pool, id, mute.until, &by, now).await?,
    ))
}

/// The notification channels, by name (no secret; of a webhook's URL only its origin).
#[utoipa::path(
    get,
    path = "/api/v1/notification-channels",
    tag = "alerts",
    responses((status = 200, description = "Every channel not deleted", body = Vec<ChannelView>), Refused),
    security(("api_key" = []), ("session" = []))
)]
pub async fn list_channels(
    _: AlertViewer,
    State(state): State<AppState>,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    let now = now(&state).await?;
    Ok(Json(
        channels::list(&state.pool, now)
            .await
            .map_err(ApiError::database)?,
    ))
}

/// Creates a channel (`notification_channel.created`); a webhook's signing secret is in the
/// answer, this once.
#[utoipa::path(
    post,
    path = "/api/v1/notification-channels",
    tag = "alerts",
    request_body = ChannelSpec,
    responses((status = 201, description = "The channel, and a webhook's secret", body = CreatedChannel), Refused),
    security(("api_key" = []), ("session" = []))
)]
pub async fn create_channel(
    who: AlertAdmin,
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    JsonBody(spec): JsonBody<ChannelSpec>,
) -> Result<(StatusCode, Json<CreatedChannel>), ApiError> {
    let by = acting(&state, &who, &headers, &ext);
    let now = now(&state).await?;
    let seal = seal(&state)?;
    let (row, secret) =
        channels::create(&state.pool, &seal, &state.config.outbound, &spec, &by, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedChannel {
            channel: channels::view(&row, now),
            secret,
        }),
    ))
}

/// One channel.
#[utoipa::path(
    get,
    path = "/api/v1/notification-channels/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "The channel's UUID")),
    responses(
        (status = 200, description = "The channel", body = ChannelView),
        (status = 404, description = "No such channel", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn get_channel(
    _: AlertViewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    let id = id_param(&id)?;
    let now = now(&state).await?;
    Ok(Json(channels::get(&state.pool, id, now).await?))
}

/// Changes a channel (`notification_channel.updated`); its signing secret stays (rotate it
/// with `POST …/secret`), an email's password too unless a new one is given.
#[utoipa::path(
    put,
    path = "/api/v1/notification-channels/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "The channel's UUID")),
    request_body = ChannelSpec,
    responses(
        (status = 200, description = "The channel as changed", body = ChannelView),
        (status = 404, description = "No such channel", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn update_channel(
    who: AlertAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ext: Extensions,
    JsonBody(spec): JsonBody<ChannelSpec>,
) -> Result<Json<ChannelView>, ApiError> {
    let id = id_param(&id)?;
    let by = acting(&state, &who, &headers, &ext);
    let now = now(&state).await?;
    let seal = seal(&state)?;
    let row = channels::update(
        &state.pool,
        &seal,
        &state.config.outbound,
        id,
        &spec,
        &by,
        now,
    )
    .await?;
    Ok(Json(channels::view(&row, now)))
}

/// Deletes a channel (`notification_channel.deleted`): nothing more is sent to it.
#[utoipa::path(
    delete,
    path = "/api/v1/notification-channels/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "The channel's UUID")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such channel", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn delete_channel(
    who: AlertAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ext: Extensions,
) -> Result<StatusCode, ApiError> {
    let id = id_param(&id)?;
    let by = acting(&state, &who, &headers, &ext);
    let now = now(&state).await?;
    channels::delete(&state.pool, id, &by, now).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret for a webhook, shown this once; the previous one still signs for 24
/// hours, so receivers switch without losing a notification.
#[utoipa::path(
    post,
    path = "/api/v1/notification-channels/{id}/secret",
    tag = "alerts",
    params(("id" = String, Path, description = "The channel's UUID")),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret),
        (status = 404, description = "No such channel", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn rotate_secret(
    who: AlertAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ext: Extensions,
) -> Result<Json<RotatedSecret>, ApiError> {
    let id = id_param(&id)?;
    let by = acting(&state, &who, &headers, &ext);
    let now = now(&state).await?;
    let seal = seal(&state)?;
    let secret = channels::rotate(&state.pool, &seal, id, &by, now).await?;
    Ok(Json(RotatedSecret {
        secret,
        previous_signs_until: now + channels::ROTATION_OVERLAP,
    }))
}

/// A delivery queued.
#[derive(Serialize, ToSchema)]
pub struct Queued {
    /// The delivery (see `GET /api/v1/deliveries`).
    pub delivery: Uuid,
}

/// Sends a test notification to a channel (queued: see the delivery log).
#[utoipa::path(
    post,
    path = "/api/v1/notification-channels/{id}/test",
    tag = "alerts",
    params(("id" = String, Path, description = "The channel's UUID")),
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 404, description = "No such channel", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn test_channel(
    who: AlertAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ext: Extensions,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let id = id_param(&id)?;
    let by = acting(&state, &who, &headers, &ext);
    let attempts = crate::domain::alerts::delivery::RetryPolicy::default().attempts as i32;
    let delivery = channels::send_test(&state.pool, id, attempts, &by).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { delivery })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Only this rule's alerts (its UUID).
    #[param(value_type = Option<uuid::Uuid>)]
    pub rule: Option<String>,
    /// Only the alerts this entry (its seq) is one of the entries of: listed among their first
    /// ten, or between their first and last entry and seen by their rule in their group.
    #[param(minimum = 0)]
    pub seq: Option<i64>,
    /// The next page: the `next` of the previous answer.
    #[param(value_type = Option<uuid::Uuid>)]
    pub after: Option<String>,
    /// How many (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of alerts, newest first.
#[derive(Serialize, ToSchema)]
pub struct AlertPage {
    pub alerts: Vec<AlertView>,
    /// Ask `after=` this for the next page (none: this is the last). With `seq=`, a page
    /// may hold fewer alerts than asked (even none) while `next` is set: keep asking.
    pub next: Option<Uuid>,
}

fn optional_id(text: &Option<String>, name: &str) -> Result<Option<Uuid>, ApiError> {
    text.as_deref()
        .map(|t| {
            Uuid::parse_str(t).map_err(|_| {
                ApiError::bad_request(format!("{name}: must be a UUID")).with_param(name)
            })
        })
        .transpose()
}

fn limit(asked: Option<i64>) -> Result<i64, ApiError> {
    match asked {
        None => Ok(50),
        Some(l) if (1..=PAGE_MAX).contains(&l) => Ok(l),
        Some(_) => {
            Err(ApiError::bad_request(format!("limit: from 1 to {PAGE_MAX}")).with_param("limit"))
        }
    }
}

/// The alerts decided, newest first, each with the console link to its entries.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    params(AlertsQuery),
    responses((status = 200, description = "A page of alerts", body = AlertPage), Refused),
    security(("api_key" = []), ("session" = []))
)]
pub async fn list_alerts(
    _: AlertViewer,
    State(state): State<AppState>,
    Params(q): Params<AlertsQuery>,
) -> Result<Json<AlertPage>, ApiError> {
    if q.seq.is_some_and(|s| s < 0) {
        return Err(ApiError::bad_request("seq: 0 or more").with_param("seq"));
    }
    let f = AlertFilter {
        rule: optional_id(&q.rule, "rule")?,
        seq: q.seq,
        after: optional_id(&q.after, "after")?,
    };
    let (alerts, next) = deliveries::alerts(
        &state.pool,
        &f,
        limit(q.limit)?,
        state.config.public_url.as_deref(),
    )
    .await
    .map_err(ApiError::database)?;
    Ok(Json(AlertPage { alerts, next }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// `pending`, `delivered` or `dead`.
    #[param(pattern = "^(pending|delivered|dead)$")]
    pub status: Option<String>,
    /// Only this channel's (its UUID).
    #[param(value_type = Option<uuid::Uuid>)]
    pub channel: Option<String>,
    /// Only this alert's (its UUID).
    #[param(value_type = Option<uuid::Uuid>)]
    pub alert: Option<String>,
    /// Only this rule's alerts' (its UUID).
    #[param(value_type = Option<uuid::Uuid>)]
    pub rule: Option<String>,
    /// The next page: the `next` of the previous answer.
    #[param(value_type = Option<uuid::Uuid>)]
    pub after: Option<String>,
    /// How many (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of the delivery log, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    /// Ask `after=` this for the next page (none: this is the last).
    pub next: Option<Uuid>,
}

/// The delivery log: every notification owed, with every attempt (status code or error,
/// latency, next retry).
#[utoipa::path(
    get,
    path = "/api/v1/deliveries",
    tag = "alerts",
    params(DeliveriesQuery),
    responses((status = 200, description = "A page of deliveries", body = DeliveryPage), Refused),
    security(("api_key" = []), ("session" = []))
)]
pub async fn list_deliveries(
    _: AlertViewer,
    State(state): State<AppState>,
    Params(q): Params<DeliveriesQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    if let Some(s) = &q.status {
        if !matches!(s.as_str(), "pending" | "delivered" | "dead") {
            return Err(
                ApiError::bad_request("status: \"pending\", \"delivered\" or \"dead\"")
                    .with_param("status"),
            );
        }
    }
    let f = DeliveryFilter {
        status: q.status.clone(),
        channel: optional_id(&q.channel, "channel")?,
        alert: optional_id(&q.alert, "alert")?,
        rule: optional_id(&q.rule, "rule")?,
        after: optional_id(&q.after, "after")?,
    };
    let (deliveries, next) = deliveries::list(&state.pool, &f, limit(q.limit)?)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(DeliveryPage { deliveries, next }))
}

/// Puts a dead delivery back in the queue, to be sent with the same `webhook-id`.
#[utoipa::path(
    post,
    path = "/api/v1/deliveries/{id}/redeliver",
    tag = "alerts",
    params(("id" = String, Path, description = "The delivery's UUID")),
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 404, description = "No such delivery", body = ErrorBody),
        (status = 409, description = "The delivery is not dead (pending or delivered)", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn redeliver(
    who: AlertAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ext: Extensions,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let id = id_param(&id)?;
    let by = acting(&state, &who, &headers, &ext);
    match deliveries::redeliver(&state.pool, id, &by).await {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(Queued { delivery: id }))),
        Err(RedeliverError::NotFound) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "no such delivery"))
        }
        Err(e @ RedeliverError::NotDead(_)) => {
            Err(ApiError::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(RedeliverError::Db(e)) => Err(ApiError::database(e)),
    }
}
