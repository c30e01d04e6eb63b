//! Notification channels as people make them: a spec checked into a channel (a webhook's URL,
//! format and signing secret; an email's server, security, credentials and addresses), each
//! change committed with the entry that records it (`notification_channel.created`,
//! `.updated`, `.deleted`; no secret, and of a URL only its origin). Secrets and the URL are
//! stored sealed under a key derived from the signing key file ([`SEAL_LABEL`]); a webhook's
//! signing secret is made here, shown once, and rotated with the previous one still signing
//! for [`ROTATION_OVERLAP`].

use app::alerts::{ChannelRefusal, ChannelSpec, ChannelView, CHANNEL_NAME_MAX, MAIL_TO_MAX};
use app::model::Source;
use chrono::{DateTime, TimeDelta, Utc};
use rand_core::{OsRng, RngCore};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::alerts::webhook::{Secret, SECRET_BYTES};
use crate::domain::outbound::Policy;
use crate::domain::sealed::{SealKey, Unsealable};
use crate::service::acting::Acting;
use crate::storage::entries;
use crate::storage::notifications::{self as stored, ChannelRow};

/// The label channels' sealing key is derived under (`SigningKey::seal_key`).
pub const SEAL_LABEL: &str = "trailkeep notification channels v1";
/// How long a rotated-out webhook secret still signs (receivers switch within it).
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);
/// The longest webhook URL.
pub const URL_MAX: usize = 2048;

/// Why a channel request changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("{0}")]
    Refused(#[from] ChannelRefusal),
    /// The server has no signing key file, so it cannot seal (a `serve` always has one).
    #[error("this server cannot seal secrets (no signing key file)")]
    NoSealKey,
    #[error("{0}")]
    Unsealable(#[from] Unsealable),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<entries::AppendError> for ChannelError {
    fn from(e: entries::AppendError) -> Self {
        match e {
            entries::AppendError::Db(e) => ChannelError::Db(e),
            other => {
                tracing::error!(error = %other, "bug: Trailkeep's own entry was not appended");
                ChannelError::Db(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

/// How a webhook's body is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    Standard,
    Slack,
}

impl BodyFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(BodyFormat::Standard),
            "slack" => Some(BodyFormat::Slack),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Standard => "standard",
            BodyFormat::Slack => "slack",
        }
    }
}

/// How an SMTP server is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    Plain,
}

impl SmtpSecurity {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "starttls" => Some(SmtpSecurity::StartTls),
            "tls" => Some(SmtpSecurity::Tls),
            "plain" => Some(SmtpSecurity::Plain),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::Plain => "plain",
        }
    }
    fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Plain => 25,
        }
    }
}

/// A webhook, opened.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub url: url::Url,
    pub format: BodyFormat,
    /// The current secret, and the previous one while it still signs.
    pub secrets: Vec<Secret>,
}

/// An email channel, opened.
#[derive(Clone, Debug)]
pub struct Email {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<(String, String)>,
    pub from: lettre::Address,
    pub to: Vec<lettre::Address>,
}

/// A channel with its secrets opened, ready to send.
#[derive(Clone, Debug)]
pub enum Opened {
    Webhook(Webhook),
    Email(Email),
}

fn webhook_refusal(w: &str) -> ChannelRefusal {
    ChannelRefusal::Webhook(w.to_string())
}

fn email_refusal(w: impl Into<String>) -> ChannelRefusal {
    ChannelRefusal::Email(w.into())
}

/// A webhook URL people may give: http(s), a host, no credentials in it, not longer than
/// [`URL_MAX`], and (an address) one the outbound guard allows.
pub fn check_url(text: &str, policy: &Policy) -> Result<url::Url, ChannelRefusal> {
    let text = text.trim();
    if text.len() > URL_MAX {
        return Err(webhook_refusal(&format!(
            "the URL is longer than {URL_MAX} characters"
        )));
    }
    let url = url::Url::parse(text).map_err(|_| {
        webhook_refusal(
            "the URL does not read: give it whole, such as https://hooks.example.com/trailkeep",
        )
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(webhook_refusal(
            "a webhook URL starts with https:// (or http://)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(webhook_refusal(
            "put no user name or password in the URL: the receiver checks the webhook-signature header instead",
        ));
    }
    if url.host_str().is_some_and(|h| h.len() > 253) {
        return Err(webhook_refusal(
            "the URL's host is longer than 253 characters: no name that long resolves",
        ));
    }
    let ip = match url.host() {
        None => return Err(webhook_refusal("the URL names no host")),
        Some(url::Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
    };
    if let Some(ip) = ip {
        policy
            .check(ip)
            .map_err(|e| ChannelRefusal::Webhook(e.to_string()))?;
    }
    Ok(url)
}

fn address(text: &str, what: &str) -> Result<lettre::Address, ChannelRefusal> {
    text.trim().parse::<lettre::Address>().map_err(|_| {
        email_refusal(format!(
            "{what} {text:?} is not an email address: give one such as alerts@example.com"
        ))
    })
}

/// What a spec asks for, checked (secrets still in clear).
struct Checked {
    name: String,
    target: Target,
    enabled: bool,
}

enum Target {
    Webhook {
        url: url::Url,
        format: BodyFormat,
    },
    Email {
        host: String,
        port: u16,
        security: SmtpSecurity,
        username: Option<String>,
        password: Option<String>,
        from: lettre::Address,
        to: Vec<lettre::Address>,
    },
}

fn check(spec: &ChannelSpec, policy: &Policy) -> Result<Checked, ChannelRefusal> {
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > CHANNEL_NAME_MAX {
        return Err(ChannelRefusal::Name);
    }
    let unused = |given: &[(&str, bool)]| match given.iter().find(|(_, g)| *g) {
        Some((field, _)) => Err(if spec.kind == "webhook" {
            webhook_refusal(&format!("{field} is for email channels: leave it out"))
        } else {
            email_refusal(format!("{field} is for webhook channels: leave it out"))
        }),
        None => Ok(()),
    };
    let target = match spec.kind.as_str() {
        "webhook" => {
            unused(&[
                ("smtp_host", spec.smtp_host.is_some()),
                ("smtp_port", spec.smtp_port.is_some()),
                ("smtp_security", spec.smtp_security.is_some()),
                ("smtp_username", spec.smtp_username.is_some()),
                ("smtp_password", spec.smtp_password.is_some()),
                ("mail_from", spec.mail_from.is_some()),
                ("mail_to", !spec.mail_to.is_empty()),
            ])?;
            let url = check_url(
                spec.url
                    .as_deref()
                    .ok_or_else(|| webhook_refusal("give the url the webhook is sent to"))?,
                policy,
            )?;
            let format = match spec.body_format.as_deref() {
                None => BodyFormat::Standard,
                Some(f) => BodyFormat::parse(f).ok_or_else(|| {
                    webhook_refusal(
                        "the body_format is \"standard\" (Standard Webhooks JSON) or \"slack\"",
                    )
                })?,
            };
            Target::Webhook { url, format }
        }
        "email" => {
            unused(&[
                ("url", spec.url.is_some()),
                ("body_format", spec.body_format.is_some()),
            ])?;
            let host = spec
                .smtp_host
                .as_deref()
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    email_refusal("give the smtp_host: the SMTP server's name or address")
                })?;
            let readable = host.parse::<std::net::IpAddr>().is_ok()
                || (url::Host::parse(host).is_ok() && !host.contains(['/', ':', '@', ' ']));
            if host.len() > 253 || !readable {
                return Err(email_refusal(format!(
                    "smtp_host {host:?} is not a host name or address: give one such as smtp.example.com"
                )));
            }
            if let Ok(ip) = host.parse::<std::net::IpAddr>() {
                policy
                    .check(ip)
                    .map_err(|e| ChannelRefusal::Email(e.to_string()))?;
            }
            let security = match spec.smtp_security.as_deref() {
                None => SmtpSecurity::StartTls,
                Some(s) => SmtpSecurity::parse(s).ok_or_else(|| {
                    email_refusal("smtp_security is \"starttls\", \"tls\" or \"plain\"")
                })?,
            };
            let port = match spec.smtp_port {
                Some(0) => return Err(email_refusal("smtp_port is 1 to 65535")),
                Some(p) => p,
                None => security.default_port(),
            };
            let username = spec
                .smtp_username
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_string);
            if username.as_ref().is_some_and(|u| u.chars().count() > 255) {
                return Err(email_refusal("smtp_username is at most 255 characters"));
            }
            if spec.smtp_password.as_ref().is_some_and(|p| p.len() > 1024) {
                return Err(email_refusal("smtp_password is at most 1,024 bytes"));
            }
            if username.is_some() && security == SmtpSecurity::Plain {
                return Err(email_refusal(
                    "a password is never sent without TLS: use smtp_security \"starttls\" or \"tls\", or no credentials",
                ));
            }
            let from = address(
                spec.mail_from
                    .as_deref()
                    .ok_or_else(|| email_refusal("give mail_from: the address alerts come from"))?,
                "mail_from",
            )?;
            if spec.mail_to.is_empty() || spec.mail_to.len() > MAIL_TO_MAX {
                return Err(email_refusal(format!(
                    "give mail_to: 1 to {MAIL_TO_MAX} addresses alerts are sent to"
                )));
            }
            let to = spec
                .mail_to
                .iter()
                .map(|t| address(t, "mail_to"))
                .collect::<Result<Vec<_>, _>>()?;
            Target::Email {
                host: host.to_string(),
                port,
                security,
                username,
                password: spec.smtp_password.clone(),
                from,
                to,
            }
        }
        _ => return Err(ChannelRefusal::Kind),
    };
    Ok(Checked {
        name: name.to_string(),
        target,
        enabled: spec.enabled,
    })
}

/// A new webhook secret, from the operating system's randomness.
pub fn new_secret() -> Secret {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    Secret::from_bytes(bytes)
}

/// Writes `c` over `row` (a new one or the stored one): a webhook's URL sealed, an email's
/// password sealed when given (kept when not, on a change of the same kind).
fn apply(row: &mut ChannelRow, c: Checked, seal: &SealKey) -> Result<(), ChannelRefusal> {
    let ctx = row.id.as_bytes().to_vec();
    row.name = c.name;
    row.enabled = c.enabled;
    match c.target {
        Target::Webhook { url, format } => {
            row.kind = "webhook".into();
            row.url = Some(seal.seal(&ctx, url.as_str().as_bytes()));
            row.url_origin = Some(url.origin().ascii_serialization());
            row.body_format = Some(format.as_str().into());
            if row.secret.is_none() {
                row.secret = Some(seal.seal(&ctx, new_secret().text().as_bytes()));
            }
            (row.smtp_host, row.smtp_port, row.smtp_security) = (None, None, None);
            (row.smtp_username, row.smtp_password) = (None, None);
            (row.mail_from, row.mail_to) = (None, None);
        }
        Target::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        } => {
            let was_email = row.kind == "email";
            row.kind = "email".into();
            (row.url, row.url_origin, row.body_format) = (None, None, None);
            (row.secret, row.previous_secret, row.previous_until) = (None, None, None);
            row.smtp_host = Some(host);
            row.smtp_port = Some(i32::from(port));
            row.smtp_security = Some(security.as_str().into());
            row.smtp_password = match (&username, password) {
                (None, _) => None,
                (Some(_), Some(p)) => Some(seal.seal(&ctx, p.as_bytes())),
                (Some(_), None) if was_email && row.smtp_password.is_some() => {
                    row.smtp_password.take()
                }
                (Some(_), None) => {
                    return Err(email_refusal(
                        "give the smtp_password of smtp_username (or neither)",
                    ))
                }
            };
            row.smtp_username = username;
            row.mail_from = Some(from.to_string());
            row.mail_to = Some(to.iter().map(ToString::to_string).collect());
        }
    }
    Ok(())
}

/// What an audit entry states of a channel: no secret, and of a URL only its origin.
fn settings(r: &ChannelRow) -> Value {
    json!({
        "name": r.name,
        "kind": r.kind,
        "url_origin": r.url_origin,
        "body_format": r.body_format,
        "smtp_host": r.smtp_host,
        "smtp_port": r.smtp_port,
        "smtp_security": r.smtp_security,
        "smtp_username": r.smtp_username,
        "mail_from": r.mail_from,
        "mail_to": r.mail_to,
        "enabled": r.enabled,
    })
}

async fn record(
    tx: &mut sqlx::PgConnection,
    row: &ChannelRow,
    action: &str,
    by: &Acting,
    extra: Value,
) -> Result<(), ChannelError> {
    stored::upsert_channel(&mut *tx, row).await?;
    let mut event = by
        .event(action)
        .on("notification_channel", &row.id.to_string());
    event.record.details = json!({ "channel": settings(row), "change": extra });
    entries::append_in(&mut *tx, Source::Trailkeep, vec![event]).await?;
    Ok(())
}

/// Changes channel `id` (not deleted) as `f` says, under its row's lock, in one transaction
/// with the entry that records it (`f` returns what the entry adds).
async fn change(
    pool: &PgPool,
    id: Uuid,
    by: &Acting,
    action: &str,
    f: impl FnOnce(&mut ChannelRow) -> Result<Value, ChannelError>,
) -> Result<ChannelRow, ChannelError> {
    let mut tx = pool.begin().await?;
    let mut row = stored::channel(&mut *tx, id, true)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or(ChannelError::Refused(ChannelRefusal::NotFound))?;
    let extra = f(&mut row)?;
    record(&mut tx, &row, action, by, extra).await?;
    tx.commit().await?;
    Ok(row)
}

/// Creates a channel: the row, and for a webhook its signing secret (shown this once).
pub async fn create(
    pool: &PgPool,
    seal: &SealKey,
    policy: &Policy,
    spec: &ChannelSpec,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<(ChannelRow, Option<String>), ChannelError> {
    let checked = check(spec, policy)?;
    let mut row = ChannelRow {
        id: Uuid::new_v4(),
        name: String::new(),
        kind: String::new(),
        url: None,
        url_origin: None,
        body_format: None,
        secret: None,
        previous_secret: None,
        previous_until: None,
        smtp_host: None,
        smtp_port: None,
        smtp_security: None,
        smtp_username: None,
        smtp_password: None,
        mail_from: None,
        mail_to: None,
        enabled: true,
        disabled_reason: None,
        created_by: by.label(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    apply(&mut row, checked, seal)?;
    let shown = match &row.secret {
        Some(sealed) => {
            Some(String::from_utf8_lossy(&seal.open(row.id.as_bytes(), sealed)?).into_owned())
        }
        None => None,
    };
    let mut tx = pool.begin().await?;
    record(
        &mut tx,
        &row,
        "notification_channel.created",
        by,
        Value::Null,
    )
    .await?;
    tx.commit().await?;
    Ok((row, shown))
}

/// Changes a channel (not its kind, nor its secret: see [`rotate`]); re-enabling one clears
/// why it was disabled.
pub async fn update(
    pool: &PgPool,
    seal: &SealKey,
    policy: &Policy,
    id: Uuid,
    spec: &ChannelSpec,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<ChannelRow, ChannelError> {
    let checked = check(spec, policy)?;
    change(pool, id, by, "notification_channel.updated", |row| {
        if row.kind != spec.kind {
            return Err(ChannelRefusal::KindChange.into());
        }
        apply(row, checked, seal)?;
        if row.enabled {
            row.disabled_reason = None;
        }
        row.updated_at = now;
        Ok(Value::Null)
    })
    .await
}

/// A new signing secret for a webhook (shown this once); the previous one signs too for
/// [`ROTATION_OVERLAP`].
pub async fn rotate(
    pool: &PgPool,
    seal: &SealKey,
    id: Uuid,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<String, ChannelError> {
    let secret = new_secret();
    change(pool, id, by, "notification_channel.updated", |row| {
        if row.kind != "webhook" {
            return Err(webhook_refusal("only a webhook channel has a signing secret").into());
        }
        row.previous_secret = row.secret.take();
        row.previous_until = Some(now + ROTATION_OVERLAP);
        row.secret = Some(seal.seal(row.id.as_bytes(), secret.text().as_bytes()));
        row.updated_at = now;
        Ok(json!({ "secret_rotated": true, "previous_signs_until": row.previous_until }))
    })
    .await?;
    Ok(secret.text())
}

/// Deletes a channel: it is sent nothing more, and rules stop naming it.
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    by: &Acting,
    now: DateTime<Utc>,
) -> Result<(), ChannelError> {
    change(pool, id, by, "notification_channel.deleted", |row| {
        row.deleted_at = Some(now);
        row.enabled = false;
        row.updated_at = now;
        Ok(Value::Null)
    })
    .await?;
    Ok(())
}

async fn live(pool: &PgPool, id: Uuid) -> Result<ChannelRow, ChannelError> {
    stored::channel(pool, id, false)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or(ChannelError::Refused(ChannelRefusal::NotFound))
}

/// A stored channel with its secrets opened, at `now` (a rotated-out secret no longer signs
/// once its overlap is over).
pub fn open(row: &ChannelRow, seal: &SealKey, now: DateTime<Utc>) -> Result<Opened, ChannelError> {
    let ctx = row.id.as_bytes();
    let text = |sealed: &[u8]| -> Result<String, ChannelError> {
        Ok(String::from_utf8_lossy(&seal.open(ctx, sealed)?).into_owned())
    };
    let bug = |what: &str| {
        tracing::error!(channel = %row.id, "bug: a stored channel has no {what}");
        ChannelError::Unsealable(Unsealable)
    };
    match row.kind.as_str() {
        "webhook" => {
            let url = url::Url::parse(&text(row.url.as_deref().ok_or_else(|| bug("url"))?)?)
                .map_err(|_| bug("readable url"))?;
            let mut secrets =
                vec![
                    Secret::parse(&text(row.secret.as_deref().ok_or_else(|| bug("secret"))?)?)
                        .map_err(|_| bug("readable secret"))?,
                ];
            if let (Some(prev), Some(until)) = (&row.previous_secret, row.previous_until) {
                if until > now {
                    secrets.push(Secret::parse(&text(prev)?).map_err(|_| bug("readable secret"))?);
                }
            }
            Ok(Opened::Webhook(Webhook {
                url,
                format: row
                    .body_format
                    .as_deref()
                    .and_then(BodyFormat::parse)
                    .unwrap_or(BodyFormat::Standard),
                secrets,
            }))
        }
        _ => {
            let credentials = match (&row.smtp_username, &row.smtp_password) {
                (Some(u), Some(p)) => Some((u.clone(), text(p)?)),
                _ => None,
            };
            let parse = |a: &str| {
                a.parse::<lettre::Address>()
                    .map_err(|_| bug("readable address"))
            };
            Ok(Opened::Email(Email {
                host: row.smtp_host.clone().ok_or_else(|| bug("smtp_host"))?,
                port: row.smtp_port.map_or(25, |p| p as u16),
                security: row
                    .smtp_security
                    .as_deref()
                    .and_then(SmtpSecurity::parse)
                    .unwrap_or(SmtpSecurity::StartTls),
                credentials,
                from: parse(row.mail_from.as_deref().unwrap_or_default())?,
                to: row
                    .mail_to
                    .iter()
                    .flatten()
                    .map(|a| parse(a))
                    .collect::<Result<_, _>>()?,
            }))
        }
    }
}

/// What the console and the API show of a channel: no secret, of a URL only its origin.
pub fn view(r: &ChannelRow, now: DateTime<Utc>) -> ChannelView {
    ChannelView {
        id: r.id,
        name: r.name.clone(),
        kind: r.kind.clone(),
        url_origin: r.url_origin.clone(),
        body_format: r.body_format.clone(),
        smtp_host: r.smtp_host.clone(),
        smtp_port: r.smtp_port.map(|p| p as u16),
        smtp_security: r.smtp_security.clone(),
        smtp_username: r.smtp_username.clone(),
        mail_from: r.mail_from.clone(),
        mail_to: r.mail_to.clone().unwrap_or_default(),
        enabled: r.enabled,
        disabled_reason: r.disabled_reason.clone(),
        previous_secret_until: r.previous_until.filter(|u| *u > now),
        created_by: r.created_by.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Every channel not deleted, by name.
pub async fn list(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<ChannelView>, sqlx::Error> {
    Ok(stored::channels(pool)
        .await?
        .iter()
        .map(|c| view(c, now))
        .collect())
}

/// One channel (not deleted).
pub async fn get(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<ChannelView, ChannelError> {
    Ok(view(&live(pool, id).await?, now))
}

/// Sends a test notification to a channel, recorded as `notification_channel.tested` by
/// whoever asked: the delivery's id (a disabled channel is sent nothing, a test neither:
/// enable it first).
pub async fn send_test(
    pool: &PgPool,
    id: Uuid,
    attempts: i32,
    by: &Acting,
) -> Result<Uuid, ChannelError> {
    let mut tx = pool.begin().await?;
    let row = stored::channel(&mut *tx, id, true)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or(ChannelError::Refused(ChannelRefusal::NotFound))?;
    let delivery = stored::enqueue_test(&mut tx, row.id, attempts).await?;
    let mut event = by
        .event("notification_channel.tested")
        .on("notification_channel", &row.id.to_string());
    event.record.details = json!({ "channel": { "name": row.name }, "delivery": delivery });
    entries::append_in(&mut tx, Source::Trailkeep, vec![event]).await?;
    tx.commit().await?;
    Ok(delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(url: &str) -> ChannelSpec {
        ChannelSpec {
            name: "Security team".into(),
            kind: "webhook".into(),
            url: Some(url.into()),
            enabled: true,
            ..Default::default()
        }
    }

    fn email() -> ChannelSpec {
        ChannelSpec {
            name: "On call".into(),
            kind: "email".into(),
            smtp_host: Some("smtp.example.com".into()),
            smtp_username: Some("alerts".into()),
            smtp_password: Some("hunter2".into()),
            mail_from: Some("trailkeep@example.com".into()),
            mail_to: vec!["oncall@example.com".into()],
            enabled: true,
            ..Default::default()
        }
    }

    fn refused(spec: &ChannelSpec) -> String {
        check(spec, &Policy::default()).err().unwrap().to_string()
    }

    #[test]
    fn a_webhook_url_is_whole_http_without_credentials_and_not_private() {
        assert!(check(
            &webhook("https://hooks.example.com/t?k=1"),
            &Policy::default()
        )
        .is_ok());
        assert!(refused(&webhook("hooks.example.com")).contains("give it whole"));
        assert!(refused(&webhook("ftp://example.com/")).contains("https://"));
        assert!(
            refused(&webhook("https://me:pw@example.com/")).contains("no user name or password")
        );
        for private in [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://127.0.0.1/",
        ] {
            assert!(
                refused(&webhook(private)).contains("TRAILKEEP_OUTBOUND_ALLOW"),
                "{private}"
            );
        }
        let allowed = Policy::parse("127.0.0.1").unwrap();
        assert!(check(&webhook("http://127.0.0.1:9/"), &allowed).is_ok());
        let host = format!("https://{}.example.com/", "a".repeat(300));
        assert!(refused(&webhook(&host)).contains("longer than 253"));
        let long = format!("https://example.com/{}", "a".repeat(URL_MAX));
        assert!(refused(&webhook(&long)).contains("longer than 2048"));
        assert!(refused(&ChannelSpec {
            body_format: Some("xml".into()),
            ..webhook("https://example.com/")
        })
        .contains("\"slack\""));
        assert!(refused(&ChannelSpec {
            mail_from: Some("a@b.c".into()),
            ..webhook("https://example.com/")
        })
        .contains("mail_from is for email channels"));
    }

    #[test]
    fn an_email_channel_names_a_server_addresses_and_never_sends_a_password_in_clear() {
        let c = check(&email(), &Policy::default()).unwrap();
        assert!(matches!(
            c.target,
            Target::Email {
                port: 587,
                security: SmtpSecurity::StartTls,
                ..
            }
        ));
        assert!(refused(&ChannelSpec {
            smtp_security: Some("plain".into()),
            ..email()
        })
        .contains("never sent without TLS"));
        assert!(refused(&ChannelSpec {
            mail_to: vec!["not an address".into()],
            ..email()
        })
        .contains("is not an email address"));
        assert!(refused(&ChannelSpec {
            mail_to: vec![],
            ..email()
        })
        .contains("1 to 20"));
        assert!(refused(&ChannelSpec {
            smtp_host: Some("10.1.2.3".into()),
            ..email()
        })
        .contains("TRAILKEEP_OUTBOUND_ALLOW"));
        assert!(refused(&ChannelSpec {
            kind: "pager".into(),
            ..email()
        })
        .contains("\"webhook\" or \"email\""));
        assert_eq!(
            refused(&ChannelSpec {
                name: " ".into(),
                ..email()
            }),
            "give the channel a name of 1 to 100 characters"
        );
    }

    #[test]
    fn secrets_are_sealed_to_their_channel_and_open_only_there() {
        let seal = SealKey::derive(b"key file", SEAL_LABEL);
        let now = Utc::now();
        let mut row = ChannelRow {
            id: Uuid::new_v4(),
            name: String::new(),
            kind: String::new(),
            url: None,
            url_origin: None,
            body_format: None,
            secret: None,
            previous_secret: None,
            previous_until: None,
            smtp_host: None,
            smtp_port: None,
            smtp_security: None,
            smtp_username: None,
            smtp_password: None,
            mail_from: None,
            mail_to: None,
            enabled: true,
            disabled_reason: None,
            created_by: "cli".into(),
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        let spec = webhook("https://hooks.slack.com/services/T0/B0/tokentoken");
        apply(&mut row, check(&spec, &Policy::default()).unwrap(), &seal).unwrap();
        assert_eq!(row.url_origin.as_deref(), Some("https://hooks.slack.com"));
        let stored = String::from_utf8_lossy(row.url.as_deref().unwrap()).into_owned();
        assert!(!stored.contains("tokentoken"));
        let Opened::Webhook(w) = open(&row, &seal, now).unwrap() else {
            panic!("a webhook")
        };
        assert_eq!(
            w.url.as_str(),
            "https://hooks.slack.com/services/T0/B0/tokentoken"
        );
        assert_eq!(w.secrets.len(), 1);
        // Another channel's row with these sealed values does not open.
        let mut other = row.clone();
        other.id = Uuid::new_v4();
        assert!(open(&other, &seal, now).is_err());
    }
}
