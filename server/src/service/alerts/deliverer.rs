//! Delivery, at least once and never lost: every server process runs a deliverer; each claims
//! due deliveries (`FOR UPDATE SKIP LOCKED`, a lease, the claim counting as the attempt),
//! sends outside any transaction (a webhook signed as Standard Webhooks asks, or an email),
//! and records the attempt, the delivery's next state and, once it is delivered or given up,
//! the entry that says so (`webhook.delivered`, `webhook.failed`, `email.delivered`,
//! `email.failed`), in one transaction. A process that dies mid-send leaves its claim to
//! lapse: the delivery is sent again with the same `webhook-id`, which receivers use to drop
//! the duplicate. The body is fixed at the first attempt and sent unchanged on every retry.
//!
//! Every outbound call goes through the SSRF guard: a webhook through `service::outbound`
//! (its resolver), an email's server by resolving its name here and connecting only to an
//! address the guard allows.

use std::time::{Duration, Instant};

use app::filter::Filter;
use app::model::Source;
use chrono::{TimeDelta, Utc};
use rand_core::{OsRng, RngCore};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::channels::{self, BodyFormat, Email, Opened, SmtpSecurity, Webhook};
use crate::domain::alerts::delivery::{RetryPolicy, Verdict};
use crate::domain::alerts::notice::{self, AlertFacts, Notice, RuleFacts};
use crate::domain::alerts::rule::GroupBy;
use crate::domain::outbound::Policy;
use crate::domain::sealed::SealKey;
use crate::service::acting::Acting;
use crate::service::outbound::{causes, Outbound};
use crate::storage::notifications::{self as stored, After, AttemptRow, DeliveryRow};
use crate::storage::{alerts as stored_alerts, entries};

/// How long one webhook request or SMTP exchange may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claim holds by default: longer than any attempt (an SMTP exchange is several
/// steps). A delivery whose process died is sent again once its claim lapses.
pub const LEASE: Duration = Duration::from_secs(120);
/// Deliveries sent at once by one process.
pub const CONCURRENCY: i64 = 8;

/// One process's deliverer.
#[derive(Clone)]
pub struct Deliverer {
    pub pool: PgPool,
    pub outbound: Outbound,
    pub seal: SealKey,
    pub owner: Uuid,
    pub retry: RetryPolicy,
    /// The console's public address, for links (`TRAILKEEP_PUBLIC_URL`).
    pub public_url: Option<String>,
    pub site: String,
    /// Certificates (PEM) trusted besides the system's, for an SMTP server with a private CA.
    pub extra_roots: Vec<Vec<u8>>,
    /// How long one attempt may take ([`TIMEOUT`]).
    pub timeout: Duration,
    /// How long a claim holds ([`LEASE`]; longer than `timeout`).
    pub lease: Duration,
}

/// Why a step failed (the database; a send's failure is an attempt's outcome, not an error).
pub type StepError = sqlx::Error;

/// What one attempt got.
struct Outcome {
    status: Option<u16>,
    retry_after: Option<String>,
    error: Option<String>,
    latency: Duration,
}

impl Outcome {
    fn refused(error: String) -> Self {
        Outcome {
            status: None,
            retry_after: None,
            error: Some(error),
            latency: Duration::ZERO,
        }
    }
}

impl Deliverer {
    /// Claims the due deliveries (up to [`CONCURRENCY`]), sends them together and records
    /// each: how many were claimed. (The tests' way; [`run`] keeps [`CONCURRENCY`] in
    /// flight, each finishing on its own.)
    pub async fn step(&self) -> Result<usize, StepError> {
        let claimed = self.claim(CONCURRENCY).await?;
        let n = claimed.len();
        let results = futures::future::join_all(claimed.into_iter().map(|d| self.attempt(d))).await;
        for r in results {
            r?;
        }
        Ok(n)
    }

    /// Gives up the deliveries whose attempts could not be recorded, then claims up to `n`.
    async fn claim(&self, n: i64) -> Result<Vec<DeliveryRow>, StepError> {
        let given_up = stored::give_up_unrecorded(&self.pool, 3).await?;
        if given_up > 0 {
            tracing::error!(
                given_up,
                "deliveries given up: their attempts could not be recorded"
            );
        }
        stored::claim(&self.pool, self.owner, n, self.lease).await
    }

    async fn attempt(&self, d: DeliveryRow) -> Result<(), StepError> {
        let now = Utc::now();
        let channel = stored::channel(&self.pool, d.channel_id, false).await?;
        let Some(channel) = channel else {
            return self
                .record(
                    &d,
                    None,
                    Outcome::refused("the channel does not exist".into()),
                    true,
                )
                .await;
        };
        if channel.deleted_at.is_some() || !channel.enabled {
            let why = match (&channel.deleted_at, &channel.disabled_reason) {
                (Some(_), _) => "the channel was deleted".to_string(),
                (None, Some(r)) => format!("the channel is disabled: {r}"),
                (None, None) => "the channel is disabled".to_string(),
            };
            return self
                .record(&d, Some(&channel.name), Outcome::refused(why), true)
                .await;
        }
        let opened = match channels::open(&channel, &self.seal, now) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(channel = %channel.id, error = %e, "a channel's secrets do not open");
                let why =
                    "the channel's secrets do not open with this server's key file".to_string();
                return self
                    .record(&d, Some(&channel.name), Outcome::refused(why), true)
                    .await;
            }
        };
        let kind = match &opened {
            Opened::Webhook(w) if w.format == BodyFormat::Slack => "slack",
            Opened::Webhook(_) => "standard",
            Opened::Email(_) => "email",
        };
        let body = match (&d.body, d.body_kind.as_deref()) {
            (Some(b), Some(k)) if k == kind => b.clone(),
            _ => {
                let notice = self.notice(&d).await?;
                let fresh = match kind {
                    "slack" => notice.slack_body(),
                    "standard" => notice.bounded(Notice::standard_body),
                    _ => notice.bounded(|n| {
                        let (subject, text) = n.email();
                        json!({ "subject": subject, "text": text }).to_string()
                    }),
                };
                stored::fix_body(&self.pool, d.id, kind, &fresh).await?;
                fresh
            }
        };
        let outcome = match &opened {
            Opened::Webhook(w) => self.send_webhook(w, &d, &body).await,
            Opened::Email(e) => self.send_email(e, &body).await,
        };
        self.record(&d, Some(&channel.name), outcome, false).await
    }

    /// What the delivery says: its alert, rule, first entries and link (or a test's words).
    async fn notice(&self, d: &DeliveryRow) -> Result<Notice, StepError> {
        let site = self.site.clone();
        let Some(alert) = (match d.alert_id {
            Some(a) => stored_alerts::alert(&self.pool, a).await?,
            None => None,
        }) else {
            return Ok(Notice {
                kind: "trailkeep.test".into(),
                rule: None,
                alert: None,
                entries: vec![],
                entries_omitted: 0,
                link: notice::link(self.public_url.as_deref(), &Filter::default()),
                site,
            });
        };
        let rule = stored_alerts::rule(&self.pool, alert.rule_id)
            .await?
            .ok_or_else(|| sqlx::Error::RowNotFound)?;
        let entries = entries::entries_by_seqs(&self.pool, &alert.seqs).await?;
        let filter = super::rules::filter_of(&rule).unwrap_or_default();
        let group_by = rule.group_by.as_deref().and_then(GroupBy::parse);
        let group = (!alert.group_key.is_empty()).then_some(alert.group_key.as_str());
        let window = rule.window_secs.map(|w| TimeDelta::seconds(i64::from(w)));
        let (from, to) = notice::alert_span(&alert.kind, alert.since, alert.at, window);
        let link = notice::link(
            self.public_url.as_deref(),
            &notice::alert_filter(&filter, group_by, group, from, to),
        );
        let kind = match alert.kind.as_str() {
            "fired" => "alert.fired",
            "resolved" => "alert.resolved",
            _ => "alert.batch",
        };
        Ok(Notice {
            kind: kind.into(),
            rule: Some(RuleFacts {
                id: rule.id,
                name: rule.name,
                severity: rule.severity,
                condition: rule.condition,
                filter: rule.filter,
                at_least: rule.at_least,
                window_secs: rule.window_secs,
                group_by: rule.group_by,
            }),
            alert: Some(AlertFacts {
                id: alert.id,
                kind: alert.kind,
                group: group.map(str::to_string),
                at: alert.at,
                since: alert.since,
                count: alert.count,
                overflow: alert.overflow,
            }),
            entries,
            entries_omitted: 0,
            link,
            site,
        })
    }

    async fn send_webhook(&self, w: &Webhook, d: &DeliveryRow, body: &str) -> Outcome {
        let id = webhook_id(d.id);
        let timestamp = Utc::now().timestamp();
        let signature = w
            .secrets
            .iter()
            .map(|s| s.sign(&id, timestamp, body.as_bytes()))
            .collect::<Vec<_>>()
            .join(" ");
        let started = Instant::now();
        let request = match self.outbound.request(reqwest::Method::POST, &w.url) {
            Ok(r) => r,
            Err(e) => return Outcome::refused(e.to_string()),
        };
        let sent = request
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(response) if !(100..=599).contains(&response.status().as_u16()) => Outcome {
                status: None,
                retry_after: None,
                error: Some(format!(
                    "the receiver answered a status HTTP does not define ({})",
                    response.status().as_u16()
                )),
                latency: started.elapsed(),
            },
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.chars().take(100).collect());
                // Read (a little of) the answer, so the connection is reused; then drop it.
                let _ = crate::service::outbound::read_capped(response, 4096).await;
                Outcome {
                    status: Some(status),
                    retry_after,
                    error: (!(200..300).contains(&status))
                        .then(|| format!("the receiver answered {status}")),
                    latency: started.elapsed(),
                }
            }
            Err(e) => Outcome {
                status: None,
                retry_after: None,
                error: Some(causes(&e.without_url())),
                latency: started.elapsed(),
            },
        }
    }

    async fn send_email(&self, e: &Email, body: &str) -> Outcome {
        let started = Instant::now();
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let subject = parsed["subject"].as_str().unwrap_or("Trailkeep alert");
        let text = parsed["text"].as_str().unwrap_or_default();
        // lettre bounds the connection only: the whole exchange is bounded here.
        let result = tokio::time::timeout(
            self.timeout,
            send_mail(
                e,
                &self.outbound.policy,
                &self.extra_roots,
                self.timeout,
                subject,
                text,
            ),
        )
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the SMTP server did not finish within {} s",
                self.timeout.as_secs()
            ))
        });
        let (status, error) = match result {
            Ok(code) => (Some(code), None),
            Err(e) => (None, Some(e)),
        };
        Outcome {
            status,
            retry_after: None,
            error,
            latency: started.elapsed(),
        }
    }

    /// Records an attempt's outcome (`dead`: give it up whatever the answer, the channel
    /// being gone) in one transaction with, at the end, the entry that says so.
    async fn record(
        &self,
        d: &DeliveryRow,
        channel_name: Option<&str>,
        outcome: Outcome,
        dead: bool,
    ) -> Result<(), StepError> {
        let now = Utc::now();
        let mut jitter = [0u8; 8];
        OsRng.fill_bytes(&mut jitter);
        let jitter = (u64::from_le_bytes(jitter) >> 11) as f64 / (1u64 << 53) as f64;
        let delivered = outcome.error.is_none();
        let verdict = if dead {
            Verdict::Dead
        } else if delivered {
            Verdict::Delivered
        } else {
            self.retry.verdict(
                d.attempts.max(1) as u32,
                d.give_up_after.max(1) as u32,
                outcome.status,
                outcome.retry_after.as_deref(),
                now,
                jitter,
            )
        };
        let after = match verdict {
            Verdict::Delivered => After::Delivered,
            Verdict::Retry(at) => After::Retry(at),
            Verdict::Gone | Verdict::Dead => After::Dead,
        };
        let attempt = AttemptRow {
            delivery_id: d.id,
            attempt: d.attempts,
            at: now,
            status_code: outcome.status.map(i32::from),
            error: outcome
                .error
                .as_ref()
                .map(|e| e.chars().take(1000).collect()),
            latency_ms: outcome.latency.as_millis().min(i32::MAX as u128) as i32,
            next_at: match after {
                After::Retry(at) => Some(at),
                _ => None,
            },
        };
        let mut tx = self.pool.begin().await?;
        let moved = stored::finish(&mut tx, self.owner, &attempt, after).await?;
        if moved && verdict == Verdict::Gone {
            stored::disable_channel(
                &mut *tx,
                d.channel_id,
                &format!(
                    "the receiver answered 410 Gone at {}: it asked to be sent nothing more; \
                     enable the channel again once it wants notifications",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )
            .await?;
        }
        if moved && !matches!(after, After::Retry(_)) {
            let kind = stored::channel(&mut *tx, d.channel_id, false)
                .await?
                .map_or_else(|| "webhook".to_string(), |c| c.kind);
            let outcome_word = if after == After::Delivered {
                "delivered"
            } else {
                "failed"
            };
            let mut event = Acting::evaluator().event(&format!("{kind}.{outcome_word}"));
            event = match d.alert_id {
                Some(a) => event.on("alert", &a.to_string()),
                None => event.on("notification_channel", &d.channel_id.to_string()),
            };
            event.record.details = json!({
                "delivery": {
                    "id": d.id,
                    "webhook_id": (kind == "webhook").then(|| webhook_id(d.id)),
                    "alert": d.alert_id,
                    "channel": { "id": d.channel_id, "name": channel_name },
                    "attempts": d.attempts,
                    "status_code": outcome.status,
                    "error": attempt.error,
                    "latency_ms": attempt.latency_ms,
                }
            });
            entries::append_in(&mut tx, Source::Trailkeep, vec![event])
                .await
                .map_err(|e| match e {
                    entries::AppendError::Db(e) => e,
                    other => sqlx::Error::Protocol(other.to_string()),
                })?;
        }
        tx.commit().await?;
        if !moved {
            tracing::warn!(delivery = %d.id, "a delivery's claim lapsed before its attempt was recorded");
        }
        Ok(())
    }
}

/// The `webhook-id` of a delivery: the same on every attempt.
pub fn webhook_id(delivery: Uuid) -> String {
    format!("msg_{}", delivery.simple())
}

/// Sends one plain-text email through `e`'s server, reached only at an address `policy`
/// allows (the name resolved here; TLS still checks the certificate against the name): the
/// server's reply code (250).
pub async fn send_mail(
    e: &Email,
    policy: &Policy,
    extra_roots: &[Vec<u8>],
    timeout: Duration,
    subject: &str,
    text: &str,
) -> Result<u16, String> {
    use lettre::message::{header::ContentType, Mailbox};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    crate::service::outbound::install_tls();
    let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((e.host.as_str(), e.port))
        .await
        .map_err(|err| format!("{} does not resolve: {err}", e.host))?
        .collect();
    let mut refused = None;
    let addr = found
        .iter()
        .find(|a| match policy.check(a.ip()) {
            Ok(()) => true,
            Err(err) => {
                refused = Some(err);
                false
            }
        })
        .ok_or_else(|| match refused {
            Some(err) => err.to_string(),
            None => format!("{} has no address", e.host),
        })?;
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
            .port(e.port)
            .timeout(Some(timeout));
    if e.security != SmtpSecurity::Plain {
        let mut params = TlsParameters::builder(e.host.clone());
        for pem in extra_roots {
            let cert = Certificate::from_pem(pem)
                .map_err(|err| format!("a trusted certificate does not read: {err}"))?;
            params = params.add_root_certificate(cert);
        }
        let params = params
            .build_rustls()
            .map_err(|err| format!("TLS could not be set up: {err}"))?;
        builder = builder.tls(match e.security {
            SmtpSecurity::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    if let Some((user, password)) = &e.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let mut message = Message::builder()
        .from(Mailbox::new(Some("Trailkeep".into()), e.from.clone()))
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for to in &e.to {
        message = message.to(Mailbox::new(None, to.clone()));
    }
    let message = message
        .body(text.to_string())
        .map_err(|err| format!("the message could not be written: {err}"))?;
    builder
        .build()
        .send(message)
        .await
        .map(|reply| reply.code().to_string().parse().unwrap_or(250))
        .map_err(|err| causes(&err))
}

/// How long a finished delivery keeps its body (copies of entries).
pub const BODY_DAYS: i32 = 30;

/// Until `stop` resolves: up to [`CONCURRENCY`] attempts in flight, each finishing on its own
/// (a slow receiver holds only its own), more claimed as they finish, when deliveries are
/// announced (NOTIFY) and every second; hourly, finished deliveries' old bodies forgotten.
/// Attempts in flight when it stops are dropped: their claims lapse and another process sends
/// them again.
pub async fn run(deliverer: Deliverer, stop: impl std::future::Future<Output = ()>) {
    let deliverer = std::sync::Arc::new(deliverer);
    let work = async {
        let mut listener = None;
        let mut failures = 0u32;
        let mut in_flight = tokio::task::JoinSet::new();
        let mut swept: Option<Instant> = None;
        loop {
            if listener.is_none() {
                match sqlx::postgres::PgListener::connect_with(&deliverer.pool).await {
                    Ok(mut l) => match l.listen(stored::CHANNEL).await {
                        Ok(()) => listener = Some(l),
                        Err(e) => tracing::warn!(error = %e, "the deliverer cannot listen"),
                    },
                    Err(e) => tracing::warn!(error = %e, "the deliverer cannot listen"),
                }
            }
            if swept.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                swept = Some(Instant::now());
                if let Err(e) = stored::forget_bodies(&deliverer.pool, BODY_DAYS).await {
                    tracing::warn!(error = %e, "old delivery bodies were not forgotten");
                }
            }
            let room = CONCURRENCY - in_flight.len() as i64;
            let mut claimed = 0;
            if room > 0 {
                match deliverer.claim(room).await {
                    Ok(list) => {
                        failures = 0;
                        claimed = list.len();
                        for d in list {
                            let one = deliverer.clone();
                            in_flight.spawn(async move { one.attempt(d).await });
                        }
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        tracing::warn!(error = %e, "deliveries could not be claimed");
                    }
                }
            }
            if claimed > 0 && in_flight.len() < CONCURRENCY as usize {
                continue;
            }
            let wait = if failures == 0 {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(1u64 << failures.min(6))
            };
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(Err(e)) = done {
                        tracing::warn!(error = %e, "a delivery's attempt was not recorded");
                    }
                }
                r = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                } => if r.is_err() { listener = None },
                _ = tokio::time::sleep(wait) => {}
            }
        }
    };
    tokio::select! {
        _ = work => {}
        _ = stop => {}
    }
}
