//! The alert tests' helpers: entries appended at chosen instants (the owner moves the chain
//! head's clock), rules made as the CLI makes them, evaluators stepped until caught up, and a
//! webhook receiver on 127.0.0.1 that checks every request with an independent Standard
//! Webhooks implementation (the `standardwebhooks` crate) and answers as a script says.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::alerts::AlertRuleSpec;
use app::model::Source;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use trailkeep::service::accounts::Acting;
use trailkeep::service::alerts::evaluator::{Evaluator, Stepped};
use trailkeep::service::alerts::rules;
use trailkeep::storage::alerts::RuleRow;
use trailkeep::storage::entries;
use uuid::Uuid;

use super::exports::World;

/// Appends `events` recorded at `at` (JSON as the ingest API takes them).
pub async fn record(w: &World, at: DateTime<Utc>, events: Vec<Value>) {
    sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
        .bind(at)
        .execute(&w.owner)
        .await
        .unwrap();
    let batch = trailkeep::domain::entry::event::parse_batch(&Value::Array(events)).unwrap();
    entries::append(&w.writer, Source::Trailkeep, batch)
        .await
        .unwrap();
}

/// Moves the database's clock (as the evaluator reads it) to `at`.
pub async fn clock(w: &World, at: DateTime<Utc>) {
    sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
        .bind(at)
        .execute(&w.owner)
        .await
        .unwrap();
}

pub fn failed(ip: &str) -> Value {
    json!({"action": "user.login_failed", "actor": {"id": "mallory"}, "ip": ip})
}

pub fn spec(filter: &str, condition: &str) -> AlertRuleSpec {
    AlertRuleSpec {
        name: format!("{condition} {filter}"),
        severity: "warning".into(),
        filter: filter.into(),
        condition: condition.into(),
        batch_secs: None,
        at_least: None,
        window_secs: None,
        group_by: None,
        pending_secs: None,
        cooldown_secs: None,
        enabled: true,
        channels: vec![],
    }
}

pub async fn create(w: &World, spec: &AlertRuleSpec, at: DateTime<Utc>) -> RuleRow {
    rules::create(&w.writer, spec, &Acting::cli(), at)
        .await
        .unwrap()
}

/// An evaluator of its own process, reading `batch` entries per step.
pub fn evaluator(w: &World, batch: i64) -> Evaluator {
    let mut e = Evaluator::new(w.writer.clone(), Uuid::new_v4(), Duration::from_secs(60));
    e.batch = batch;
    e
}

/// Steps until every entry is read; then a tick.
pub async fn settle(e: &mut Evaluator) {
    loop {
        match e.step(false).await.unwrap() {
            Stepped::Evaluated {
                caught_up: false, ..
            } => continue,
            Stepped::Evaluated { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        e.step(true).await.unwrap(),
        Stepped::Evaluated { .. }
    ));
}

/// How the receiver answers one request.
#[derive(Clone, Debug)]
pub enum Answer {
    Status(u16),
    /// A status and a `Retry-After` header.
    RetryAfter(u16, &'static str),
    /// No answer at all (the request hangs until the sender gives up).
    Hang,
    /// Taken (recorded as received), answered 200 only after this long.
    Slow(Duration),
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// Whether the independent implementation accepted its signature.
    pub verified: bool,
    pub content_type: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook receiver on 127.0.0.1: what it got, and what it answers next (200 once the
/// script is spent).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub script: Arc<Mutex<VecDeque<Answer>>>,
    secret: Arc<Mutex<Option<String>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let secret: Arc<Mutex<Option<String>>> = Arc::default();
        let (g, sc, se) = (got.clone(), script.clone(), secret.clone());
        let handler = move |headers: HeaderMap, body: axum::body::Bytes| {
            let (got, script, secret) = (g.clone(), sc.clone(), se.clone());
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let verified = secret.lock().unwrap().as_deref().is_some_and(|s| {
                    standardwebhooks::Webhook::new(s)
                        .unwrap()
                        .verify(&body, &headers)
                        .is_ok()
                });
                got.lock().unwrap().push(Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    verified,
                    content_type: header("content-type"),
                });
                let answer = script.lock().unwrap().pop_front();
                match answer.unwrap_or(Answer::Status(200)) {
                    Answer::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
                    Answer::RetryAfter(s, after) => {
                        (StatusCode::from_u16(s).unwrap(), [("retry-after", after)]).into_response()
                    }
                    Answer::Hang => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        StatusCode::OK.into_response()
                    }
                    Answer::Slow(d) => {
                        tokio::time::sleep(d).await;
                        StatusCode::OK.into_response()
                    }
                }
            }
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hook"),
            got,
            script,
            secret,
        }
    }

    /// The secret requests are verified with (the channel's, as shown once).
    pub fn trust(&self, secret: &str) {
        *self.secret.lock().unwrap() = Some(secret.to_string());
    }

    pub fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap().extend(answers);
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}
