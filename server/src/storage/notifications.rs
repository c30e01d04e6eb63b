//! Notification channels, the rules' choice of them, and the deliveries owed (migrations/0033).
//! A delivery is written in the evaluator's transaction, claimed by one process at a time
//! (`FOR UPDATE SKIP LOCKED` and a lease), sent outside any transaction, and finished with
//! its attempt in one transaction; a claim whose lease lapsed goes back to the queue, so every
//! delivery is sent at least once and recorded once per attempt.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The NOTIFY channel that says deliveries are due.
pub const CHANNEL: &str = "trailkeep_deliveries";

/// One channel as stored (secrets sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    /// Sealed: the whole URL (it may carry a token).
    pub url: Option<Vec<u8>>,
    /// Its scheme, host and port, shown.
    pub url_origin: Option<String>,
    pub body_format: Option<String>,
    pub secret: Option<Vec<u8>>,
    pub previous_secret: Option<Vec<u8>>,
    pub previous_until: Option<DateTime<Utc>>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<i32>,
    pub smtp_security: Option<String>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Vec<u8>>,
    pub mail_from: Option<String>,
    pub mail_to: Option<Vec<String>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

const CHANNEL_COLUMNS: &str =
    "id, name, kind, url, url_origin, body_format, secret, previous_secret, \
    previous_until, smtp_host, smtp_port, smtp_security, smtp_username, smtp_password, \
    mail_from, mail_to, enabled, disabled_reason, created_by, created_at, updated_at, deleted_at";

/// Stores `c` as a new channel, or (same id) as its new settings.
pub async fn upsert_channel(conn: &mut PgConnection, c: &ChannelRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO notification_channels ({CHANNEL_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19, $20, $21, $22) \
         ON CONFLICT (id) DO UPDATE SET name = $2, url = $4, url_origin = $5, \
             body_format = $6, secret = $7, previous_secret = $8, previous_until = $9, \
             smtp_host = $10, smtp_port = $11, smtp_security = $12, smtp_username = $13, \
             smtp_password = $14, mail_from = $15, mail_to = $16, enabled = $17, \
             disabled_reason = $18, updated_at = $21, deleted_at = $22"
    ))
    .bind(c.id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&c.url)
    .bind(&c.url_origin)
    .bind(&c.body_format)
    .bind(&c.secret)
    .bind(&c.previous_secret)
    .bind(c.previous_until)
    .bind(&c.smtp_host)
    .bind(c.smtp_port)
    .bind(&c.smtp_security)
    .bind(&c.smtp_username)
    .bind(&c.smtp_password)
    .bind(&c.mail_from)
    .bind(&c.mail_to)
    .bind(c.enabled)
    .bind(&c.disabled_reason)
    .bind(&c.created_by)
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(c.deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// One channel (deleted ones too: deliveries name them), locked when `for_update`.
pub async fn channel(
    db: impl PgExecutor<'_>,
    id: Uuid,
    for_update: bool,
) -> Result<Option<ChannelRow>, sqlx::Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The channels not deleted, by name.
pub async fn channels(db: impl PgExecutor<'_>) -> Result<Vec<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE deleted_at IS NULL \
         ORDER BY lower(name), id"
    ))
    .fetch_all(db)
    .await
}

/// Disables a channel for `reason` (its receiver answered `410 Gone`).
pub async fn disable_channel(
    db: impl PgExecutor<'_>,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notification_channels SET enabled = false, disabled_reason = $2, \
             updated_at = clock_timestamp() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// The channels `rule` notifies (not deleted), in id order.
pub async fn rule_channels(db: impl PgExecutor<'_>, rule: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT rc.channel_id FROM alert_rule_channels rc \
         JOIN notification_channels c ON c.id = rc.channel_id \
         WHERE rc.rule_id = $1 AND c.deleted_at IS NULL ORDER BY rc.channel_id",
    )
    .bind(rule)
    .fetch_all(db)
    .await
}

/// Makes `channels` the ones `rule` notifies; `false` when one of them does not exist (or is
/// deleted), and nothing changed.
pub async fn set_rule_channels(
    conn: &mut PgConnection,
    rule: Uuid,
    channels: &[Uuid],
) -> Result<bool, sqlx::Error> {
    let known: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notification_channels WHERE id = ANY($1) AND deleted_at IS NULL",
    )
    .bind(channels)
    .fetch_one(&mut *conn)
    .await?;
    let mut distinct = channels.to_vec();
    distinct.sort();
    distinct.dedup();
    if known != distinct.len() as i64 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM alert_rule_channels WHERE rule_id = $1")
        .bind(rule)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO alert_rule_channels (rule_id, channel_id) SELECT $1, unnest($2::uuid[])",
    )
    .bind(rule)
    .bind(&distinct)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// In the evaluator's transaction: a delivery for each of `alerts` (not muted) to each
/// enabled channel of its rule, due at once, given up after `attempts`; then the NOTIFY that
/// wakes the deliverers (sent on commit). How many were written.
pub async fn enqueue_alerts(
    conn: &mut PgConnection,
    alerts: &[Uuid],
    attempts: i32,
) -> Result<u64, sqlx::Error> {
    if alerts.is_empty() {
        return Ok(0);
    }
    let written = sqlx::query(
        "INSERT INTO deliveries (id, alert_id, channel_id, status, give_up_after, next_at, \
                                 created_at) \
         SELECT gen_random_uuid(), a.id, c.id, 'pending', $2, now(), now() \
         FROM alerts a \
         JOIN alert_rules r ON r.id = a.rule_id \
         JOIN alert_rule_channels rc ON rc.rule_id = a.rule_id \
         JOIN notification_channels c ON c.id = rc.channel_id \
         WHERE a.id = ANY($1) AND NOT a.muted AND c.enabled AND c.deleted_at IS NULL \
           AND r.deleted_at IS NULL \
           AND (r.muted_until IS NULL OR r.muted_until <= a.at)",
    )
    .bind(alerts)
    .bind(attempts)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if written > 0 {
        notify(conn).await?;
    }
    Ok(written)
}

/// A test notification to `channel`: its delivery's id.
pub async fn enqueue_test(
    conn: &mut PgConnection,
    channel: Uuid,
    attempts: i32,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO deliveries (id, alert_id, channel_id, status, give_up_after, next_at, \
                                 created_at) \
         VALUES ($1, NULL, $2, 'pending', $3, now(), now())",
    )
    .bind(id)
    .bind(channel)
    .bind(attempts)
    .execute(&mut *conn)
    .await?;
    notify(conn).await?;
    Ok(id)
}

async fn notify(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// One delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub alert_id: Option<Uuid>,
    pub channel_id: Uuid,
    pub body: Option<String>,
    pub body_kind: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub give_up_after: i32,
    pub next_at: DateTime<Utc>,
    pub lease_owner: Option<Uuid>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

const DELIVERY_COLUMNS: &str = "id, alert_id, channel_id, body, body_kind, status, attempts, \
    give_up_after, next_at, lease_owner, lease_until, created_at, finished_at, last_error";

/// Claims up to `limit` due deliveries for `owner` until `lease` from now (each one's attempt
/// count grows: the claim is the attempt), skipping those another process holds.
pub async fn claim(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    limit: i64,
    lease: std::time::Duration,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE deliveries d SET lease_owner = $1, \
             lease_until = clock_timestamp() + make_interval(secs => $3), \
             attempts = d.attempts + 1 \
         FROM (SELECT id FROM deliveries \
               WHERE status = 'pending' AND next_at <= clock_timestamp() \
                 AND (lease_until IS NULL OR lease_until < clock_timestamp()) \
                 AND attempts < give_up_after + 3 \
               ORDER BY next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) due \
         WHERE d.id = due.id \
         RETURNING {}",
        DELIVERY_COLUMNS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(owner)
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(db)
    .await
}

/// Fixes a delivery's body as `kind` (its first attempt, or the first after its channel's
/// format changed).
pub async fn fix_body(
    db: impl PgExecutor<'_>,
    id: Uuid,
    kind: &str,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE deliveries SET body = $3, body_kind = $2 WHERE id = $1")
        .bind(id)
        .bind(kind)
        .bind(body)
        .execute(db)
        .await?;
    Ok(())
}

/// Gives up the deliveries whose attempts could not be recorded again and again (each claim
/// counts one): past `give_up_after` by `slack`, unclaimed, they are dead with the reason.
pub async fn give_up_unrecorded(db: impl PgExecutor<'_>, slack: i32) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE deliveries SET status = 'dead', finished_at = clock_timestamp(), \
             lease_owner = NULL, lease_until = NULL, \
             last_error = 'given up: its attempts could not be recorded (see the server log)' \
         WHERE status = 'pending' AND attempts >= give_up_after + $1 \
           AND (lease_until IS NULL OR lease_until < clock_timestamp())",
    )
    .bind(slack)
    .execute(db)
    .await?
    .rows_affected())
}

/// Forgets the bodies (copies of entries) of deliveries finished more than `days` ago.
pub async fn forget_bodies(db: impl PgExecutor<'_>, days: i32) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE deliveries SET body = NULL, body_kind = NULL \
         WHERE body IS NOT NULL AND status <> 'pending' \
           AND finished_at < clock_timestamp() - make_interval(days => $1)",
    )
    .bind(days)
    .execute(db)
    .await?
    .rows_affected())
}

/// One attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AttemptRow {
    pub delivery_id: Uuid,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i32,
    pub next_at: Option<DateTime<Utc>>,
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Delivered,
    Retry(DateTime<Utc>),
    Dead,
}

/// Records attempt `a` and, when the claim still holds (`owner`'s lease on that attempt),
/// moves the delivery on as `after` says, in the caller's transaction: whether it did (a
/// claim that lapsed and was taken over leaves the delivery to its new holder).
pub async fn finish(
    conn: &mut PgConnection,
    owner: Uuid,
    a: &AttemptRow,
    after: After,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT INTO delivery_attempts (delivery_id, attempt, at, status_code, error, \
                                        latency_ms, next_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.delivery_id)
    .bind(a.attempt)
    .bind(a.at)
    .bind(a.status_code)
    .bind(&a.error)
    .bind(a.latency_ms)
    .bind(a.next_at)
    .execute(&mut *conn)
    .await?;
    let (status, next_at) = match after {
        After::Delivered => ("delivered", None),
        After::Retry(at) => ("pending", Some(at)),
        After::Dead => ("dead", None),
    };
    let moved = sqlx::query(
        "UPDATE deliveries SET status = $4, next_at = coalesce($5, next_at), \
             lease_owner = NULL, lease_until = NULL, last_error = $6, \
             finished_at = CASE WHEN $4 = 'pending' THEN NULL ELSE clock_timestamp() END \
         WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND status = 'pending'",
    )
    .bind(a.delivery_id)
    .bind(owner)
    .bind(a.attempt)
    .bind(status)
    .bind(next_at)
    .bind(
        a.error
            .as_ref()
            .map(|e| e.chars().take(1000).collect::<String>()),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

/// Puts a dead delivery back in the queue with `attempts` more attempts: `false` when it is
/// not dead (pending or delivered already: nothing changes).
pub async fn redeliver(
    conn: &mut PgConnection,
    id: Uuid,
    attempts: i32,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE deliveries SET status = 'pending', finished_at = NULL, next_at = now(), \
             give_up_after = attempts + $2, lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND status = 'dead'",
    )
    .bind(id)
    .bind(attempts)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved == 1 {
        notify(conn).await?;
    }
    Ok(moved == 1)
}

/// One delivery.
pub async fn delivery(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The deliveries of `alert`, oldest first.
pub async fn deliveries_of(
    db: impl PgExecutor<'_>,
    alert: Uuid,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE alert_id = $1 ORDER BY created_at, id"
    ))
    .bind(alert)
    .fetch_all(db)
    .await
}

/// The attempts of `delivery`, in order.
pub async fn attempts_of(
    db: impl PgExecutor<'_>,
    delivery: Uuid,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT delivery_id, attempt, at, status_code, error, latency_ms, next_at \
         FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(delivery)
    .fetch_all(db)
    .await
}

/// Every (rule, channel) pair of rules and channels not deleted.
pub async fn all_rule_channels(db: impl PgExecutor<'_>) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT rc.rule_id, rc.channel_id FROM alert_rule_channels rc \
         JOIN notification_channels c ON c.id = rc.channel_id \
         WHERE c.deleted_at IS NULL ORDER BY rc.rule_id, rc.channel_id",
    )
    .fetch_all(db)
    .await
}

/// Which deliveries a list shows.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub channel: Option<Uuid>,
    pub alert: Option<Uuid>,
    pub rule: Option<Uuid>,
    /// Only those listed after this one (newest first): the previous page's last.
    pub after: Option<Uuid>,
}

/// A delivery with the names a list shows.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListedDelivery {
    #[sqlx(flatten)]
    pub delivery: DeliveryRow,
    pub rule_id: Option<Uuid>,
    pub rule_name: Option<String>,
    pub channel_name: String,
    pub channel_kind: String,
}

/// Deliveries matching `f`, newest first, at most `limit`.
pub async fn list_deliveries(
    db: impl PgExecutor<'_>,
    f: &DeliveryFilter,
    limit: i64,
) -> Result<Vec<ListedDelivery>, sqlx::Error> {
    let columns = DELIVERY_COLUMNS
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_as(&format!(
        "SELECT {columns}, a.rule_id, r.name AS rule_name, c.name AS channel_name, \
                c.kind AS channel_kind \
         FROM deliveries d \
         JOIN notification_channels c ON c.id = d.channel_id \
         LEFT JOIN alerts a ON a.id = d.alert_id \
         LEFT JOIN alert_rules r ON r.id = a.rule_id \
         WHERE ($1::text IS NULL OR d.status = $1) \
           AND ($2::uuid IS NULL OR d.channel_id = $2) \
           AND ($3::uuid IS NULL OR d.alert_id = $3) \
           AND ($4::uuid IS NULL OR a.rule_id = $4) \
           AND ($5::uuid IS NULL OR (d.created_at, d.id) < \
                (SELECT created_at, id FROM deliveries WHERE id = $5)) \
         ORDER BY d.created_at DESC, d.id DESC LIMIT $6"
    ))
    .bind(&f.status)
    .bind(f.channel)
    .bind(f.alert)
    .bind(f.rule)
    .bind(f.after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The attempts of `deliveries`, in order within each.
pub async fn attempts_of_many(
    db: impl PgExecutor<'_>,
    deliveries: &[Uuid],
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT delivery_id, attempt, at, status_code, error, latency_ms, next_at \
         FROM delivery_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
    )
    .bind(deliveries)
    .fetch_all(db)
    .await
}
