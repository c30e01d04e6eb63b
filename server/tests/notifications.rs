//! Notifications on real PostgreSQL and real sockets: alerts decided by the evaluator are
//! delivered to a webhook receiver started here on 127.0.0.1, which checks every request with
//! an independent Standard Webhooks implementation (the `standardwebhooks` crate); receivers
//! that fail, hang, ask to wait or say they are gone; claims that lapse (a process that died
//! mid-send); the SSRF guard, which refuses before connecting; and email through a real SMTP
//! server (aiosmtpd) with STARTTLS.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app::alerts::{AlertRuleSpec, ChannelSpec};
use chrono::{TimeDelta, Utc};
use sqlx::PgPool;
use trailkeep::domain::alerts::delivery::RetryPolicy;
use trailkeep::domain::outbound::Policy;
use trailkeep::domain::sealed::SealKey;
use trailkeep::service::accounts::Acting;
use trailkeep::service::alerts::channels::{self, SEAL_LABEL};
use trailkeep::service::alerts::deliverer::{webhook_id, Deliverer};
use trailkeep::service::outbound::Outbound;
use trailkeep::storage::notifications::{self as stored, DeliveryRow};
use uuid::Uuid;

use common::alerts::{
    clock, create, evaluator, failed, record, settle, spec, Answer, Received, Receiver,
};
use common::exports::{utc, World};

fn seal(w: &World) -> SealKey {
    w.key.seal_key(SEAL_LABEL)
}

fn loopback() -> Policy {
    Policy::parse("127.0.0.1").unwrap()
}

/// A deliverer of its own process that may reach 127.0.0.1, retrying fast (each delivery
/// gets the attempts it was enqueued with).
fn deliverer(w: &World) -> Deliverer {
    Deliverer {
        pool: w.writer.clone(),
        outbound: Outbound::new(loopback()),
        seal: seal(w),
        owner: Uuid::new_v4(),
        retry: RetryPolicy {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
            attempts: 3,
        },
        public_url: Some("https://audit.example.com".into()),
        site: "Trailkeep".into(),
        extra_roots: vec![],
        timeout: Duration::from_millis(700),
        lease: Duration::from_secs(60),
    }
}

/// A webhook channel to `r` (its secret trusted by `r`): its id.
async fn webhook(w: &World, r: &Receiver, format: Option<&str>) -> Uuid {
    let (row, secret) = channels::create(
        &w.writer,
        &seal(w),
        &loopback(),
        &ChannelSpec {
            name: "Security team".into(),
            kind: "webhook".into(),
            url: Some(r.url.clone()),
            body_format: format.map(str::to_string),
            enabled: true,
            ..Default::default()
        },
        &Acting::cli(),
        Utc::now(),
    )
    .await
    .unwrap();
    let secret = secret.expect("a webhook's secret is shown once");
    assert!(secret.starts_with("whsec_"));
    r.trust(&secret);
    row.id
}

/// Steps `d` until nothing is pending (retries included), at most `limit`.
async fn drain(d: &Deliverer, limit: Duration) {
    let started = std::time::Instant::now();
    loop {
        d.step().await.unwrap();
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status = 'pending'")
                .fetch_one(&d.pool)
                .await
                .unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "deliveries still pending after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn deliveries(pool: &PgPool) -> Vec<DeliveryRow> {
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM deliveries ORDER BY created_at, id")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut out = Vec::new();
    for id in ids {
        out.push(stored::delivery(pool, id).await.unwrap().unwrap());
    }
    out
}

/// The log's entries of `action`, their details.
async fn logged(pool: &PgPool, action: &str) -> Vec<serde_json::Value> {
    sqlx::query_scalar(
        "SELECT details FROM audit_entries WHERE action = $1 AND source = 'trailkeep' ORDER BY seq",
    )
    .bind(action)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_burst_is_one_signed_alert_per_address_and_one_resolve_each(pool: PgPool) {
    let w = World::new(&pool).await;
    let r = Receiver::start().await;
    let channel = webhook(&w, &r, None).await;
    let t0 = utc("2027-04-01T10:00:00Z");
    create(
        &w,
        &AlertRuleSpec {
            at_least: Some(5),
            window_secs: Some(600),
            group_by: Some("ip".into()),
            pending_secs: Some(30),
            cooldown_secs: Some(300),
            channels: vec![channel],
            ..spec("action=user.login_failed", "threshold")
        },
        t0,
    )
    .await;
    let mut e = evaluator(&w, 500);
    let d = deliverer(&w);
    // 20 failed sign-ins in a minute from two addresses.
    for i in 0..20 {
        let ip = if i % 2 == 0 {
            "203.0.113.7"
        } else {
            "198.51.100.9"
        };
        record(&w, t0 + TimeDelta::seconds(3 * i + 1), vec![failed(ip)]).await;
    }
    settle(&mut e).await;
    clock(&w, t0 + TimeDelta::seconds(80)).await;
    settle(&mut e).await;
    drain(&d, Duration::from_secs(10)).await;
    let got = r.got();
    assert_eq!(got.len(), 2, "{got:#?}");
    for g in &got {
        assert!(g.verified, "the signature did not verify: {g:?}");
        assert_eq!(g.content_type, "application/json");
        let body = g.json();
        assert_eq!(body["type"], "alert.fired");
        assert_eq!(
            body["data"]["rule"]["name"],
            "threshold action=user.login_failed"
        );
        let count = body["data"]["alert"]["count"].as_u64().unwrap();
        assert_eq!(
            body["data"]["entries"].as_array().unwrap().len() as u64,
            count.min(10)
        );
        let link = body["data"]["link"].as_str().unwrap();
        let ip = body["data"]["alert"]["group"].as_str().unwrap();
        assert!(
            link.starts_with("https://audit.example.com/audit?"),
            "{link}"
        );
        assert!(link.contains(&format!("ip={ip}")), "{link}");
    }
    let groups: Vec<String> = got
        .iter()
        .map(|g| {
            g.json()["data"]["alert"]["group"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(groups.contains(&"203.0.113.7".into()) && groups.contains(&"198.51.100.9".into()));
    // The fifth from 203.0.113.7 came at 25 s; held 30 s, it fired at 55 s with nine.
    let first = got
        .iter()
        .map(Received::json)
        .find(|b| b["data"]["alert"]["group"] == "203.0.113.7")
        .unwrap();
    assert_eq!(first["data"]["alert"]["count"], 9);
    assert_eq!(first["data"]["alert"]["at"], "2027-04-01T10:00:55Z");
    // The cool-down passes: one resolve each, nothing more.
    clock(&w, t0 + TimeDelta::hours(1)).await;
    settle(&mut e).await;
    settle(&mut e).await;
    drain(&d, Duration::from_secs(10)).await;
    let got = r.got();
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[2..]
            .iter()
            .filter(|g| g.json()["type"] == "alert.resolved")
            .count(),
        2
    );
    let ids: std::collections::BTreeSet<&str> = got.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids.len(), 4, "one webhook-id per notification");
    // Each delivery is in the log, with its webhook-id.
    let delivered = logged(&pool, "webhook.delivered").await;
    assert_eq!(delivered.len(), 4);
    for g in &got {
        assert!(delivered
            .iter()
            .any(|d| d["delivery"]["webhook_id"] == g.id.as_str()));
    }
    // The evaluator passed over the deliverer's entries: still exactly four alerts.
    settle(&mut e).await;
    drain(&d, Duration::from_secs(10)).await;
    assert_eq!(r.got().len(), 4);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_match_sends_a_burst_as_one_message_and_absence_fires_when_a_key_stops(pool: PgPool) {
    let w = World::new(&pool).await;
    let r = Receiver::start().await;
    let channel = webhook(&w, &r, None).await;
    let t0 = utc("2027-04-01T10:00:00Z");
    create(
        &w,
        &AlertRuleSpec {
            batch_secs: Some(10),
            channels: vec![channel],
            ..spec("action=user.deleted", "every_match")
        },
        t0,
    )
    .await;
    create(
        &w,
        &AlertRuleSpec {
            window_secs: Some(3600),
            channels: vec![channel],
            ..spec("action=config.deployed", "absence")
        },
        t0,
    )
    .await;
    let mut e = evaluator(&w, 500);
    let d = deliverer(&w);
    let deleted = serde_json::json!({"action": "user.deleted", "actor": {"id": "alice"}});
    let deployed = serde_json::json!({"action": "config.deployed", "actor": {"id": "ci"}});
    record(&w, t0 + TimeDelta::seconds(1), vec![deployed.clone()]).await;
    record(&w, t0 + TimeDelta::seconds(2), vec![deleted.clone(); 3]).await;
    record(&w, t0 + TimeDelta::seconds(5), vec![deleted.clone(); 4]).await;
    clock(&w, t0 + TimeDelta::seconds(30)).await;
    settle(&mut e).await;
    drain(&d, Duration::from_secs(10)).await;
    let got = r.got();
    assert_eq!(got.len(), 1, "{got:#?}");
    let body = got[0].json();
    assert_eq!(body["type"], "alert.batch");
    assert_eq!(body["data"]["alert"]["count"], 7);
    assert_eq!(body["data"]["entries"].as_array().unwrap().len(), 7);
    // The deploys stop: an hour after the last one, the absence fires.
    clock(&w, t0 + TimeDelta::seconds(3600)).await;
    settle(&mut e).await;
    drain(&d, Duration::from_secs(10)).await;
    assert_eq!(r.got().len(), 1);
    clock(&w, t0 + TimeDelta::seconds(3602)).await;
    settle(&mut e).await;
    drain(&d, Duration::from_secs(10)).await;
    let got = r.got();
    assert_eq!(got.len(), 2);
    let body = got[1].json();
    assert_eq!(body["type"], "alert.fired");
    assert_eq!(body["data"]["rule"]["condition"], "absence");
    assert!(got[1].verified);
}

/// A test notification to `channel`, given up after `attempts`: its delivery.
async fn test_notification(w: &World, channel: Uuid, attempts: i32) -> Uuid {
    let mut conn = w.writer.acquire().await.unwrap();
    stored::enqueue_test(&mut conn, channel, attempts)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failing_receiver_gets_it_with_one_webhook_id_and_every_attempt_is_logged(pool: PgPool) {
    let w = World::new(&pool).await;
    let r = Receiver::start().await;
    let channel = webhook(&w, &r, None).await;
    r.answer([
        Answer::Status(999),
        Answer::Status(500),
        Answer::Status(500),
    ]);
    let id = test_notification(&w, channel, 5).await;
    let d = deliverer(&w);
    drain(&d, Duration::from_secs(20)).await;
    let got = r.got();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|g| g.id == webhook_id(id) && g.verified));
    assert!(
        got.iter().all(|g| g.body == got[0].body),
        "the body is fixed at the first attempt"
    );
    let attempts = stored::attempts_of(&pool, id).await.unwrap();
    let codes: Vec<Option<i32>> = attempts.iter().map(|a| a.status_code).collect();
    // A status HTTP does not define is an error, not a stored code.
    assert_eq!(codes, [None, Some(500), Some(500), Some(200)]);
    assert!(attempts[0].error.as_deref().unwrap().contains("(999)"));
    assert!(attempts[..3].iter().all(|a| a.next_at.is_some()));
    assert!(attempts[3].next_at.is_none() && attempts[3].error.is_none());
    // Backoff grows (with jitter: at least half of 50, 100, 200 ms).
    for (a, floor) in attempts.iter().zip([25, 50, 100]) {
        assert!(
            a.next_at.unwrap() - a.at >= TimeDelta::milliseconds(floor),
            "{a:?}"
        );
    }
    let row = stored::delivery(&pool, id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("delivered", 4));
    assert_eq!(logged(&pool, "webhook.delivered").await.len(), 1);
    assert!(logged(&pool, "webhook.failed").await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_receiver_that_never_answers_ends_dead_and_is_redelivered(pool: PgPool) {
    let w = World::new(&pool).await;
    let r = Receiver::start().await;
    let channel = webhook(&w, &r, None).await;
    r.answer([Answer::Hang, Answer::Hang, Answer::Hang]);
    let id = test_notification(&w, channel, 3).await;
    let d = deliverer(&w);
    drain(&d, Duration::from_secs(20)).await;
    let row = stored::delivery(&pool, id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("dead", 3));
    let attempts = stored::attempts_of(&pool, id).await.unwrap();
    assert_eq!(attempts.len(), 3);
    for a in &attempts {
        assert!(a.status_code.is_none());
        assert!(a.error.as_deref().unwrap().contains("timed out"), "{a:?}");
        assert!(a.latency_ms >= 600, "{a:?}");
    }
    assert!(attempts[2].next_at.is_none());
    let failed = logged(&pool, "webhook.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["delivery"]["attempts"], 3);
    // Redelivered: it goes through, with the same webhook-id, and only a dead one can be.
    let mut conn = pool.acquire().await.unwrap();
    assert!(stored::redeliver(&mut conn, id, 3).await.unwrap());
    assert!(!stored::redeliver(&mut conn, id, 3).await.unwrap());
    drain(&d, Duration::from_secs(20)).await;
    let row = stored::delivery(&pool, id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("delivered", 4));
    assert!(r.got().iter().all(|g| g.id == webhook_id(id)));
    assert_eq!(logged(&pool, "webhook.delivered").await.len(), 1);
    assert!(!stored::redeliver(&mut conn, id, 3).await.unwrap());
}

#[sqlx::test(migrations = "../migrations")]
async fn gone_disables_the_channel_and_retry_after_is_honoured(pool: PgPool) {
    let w = World::new(&pool).await;
    let r = Receiver::start().await;
    let channel = webhook(&w, &r, None).await;
    let d = deliverer(&w);
    // 429 with Retry-After: 2 s, longer than the backoff (at most 200 ms here).
    r.answer([Answer::RetryAfter(429, "2")]);
    let id = test_notification(&w, channel, 5).await;
    drain(&d, Duration::from_secs(20)).await;
    let attempts = stored::attempts_of(&pool, id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(attempts[0].next_at.unwrap() - attempts[0].at >= TimeDelta::seconds(2));
    assert!(attempts[1].at >= attempts[0].next_at.unwrap());
    // 410 Gone: dead at once, the channel disabled with the reason; nothing more is sent.
    r.answer([Answer::Status(410)]);
    let gone = test_notification(&w, channel, 5).await;
    drain(&d, Duration::from_secs(20)).await;
    let row = stored::delivery(&pool, gone).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("dead", 1));
    let c = stored::channel(&pool, channel, false)
        .await
        .unwrap()
        .unwrap();
    assert!(!c.enabled);
    assert!(c.disabled_reason.unwrap().contains("410 Gone"));
    let before = r.got().len();
    let after = test_notification(&w, channel, 5).await;
    drain(&d, Duration::from_secs(20)).await;
    assert_eq!(r.got().len(), before);
    let row = stored::delivery(&pool, after).await.unwrap().unwrap();
    assert_eq!(row.status, "dead");
    assert!(row.last_error.unwrap().contains("disabled"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_claim_whose_process_died_is_sent_again_with_the_same_id(pool: PgPool) {
    let w = World::new(&pool).await;
    let r = Receiver::start().await;
    let channel = webhook(&w, &r, None).await;
    let id = test_notification(&w, channel, 5).await;
    // A process claims it and dies before sending: its lease lapses.
    let dead = Uuid::new_v4();
    let claimed = stored::claim(&pool, dead, 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let d = deliverer(&w);
    assert_eq!(d.step().await.unwrap(), 0, "a held claim is skipped");
    sqlx::query("UPDATE deliveries SET lease_until = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    drain(&d, Duration::from_secs(10)).await;
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, webhook_id(id));
    // A process that sent and died before recording: sent again, the same webhook-id (the
    // receiver drops the duplicate by it); delivered once in the log.
    let second = test_notification(&w, channel, 5).await;
    let claimed = stored::claim(&pool, dead, 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, second);
    // (it sends: the receiver gets it; it never records)
    let body = "{}";
    let webhook = match channels::open(
        &stored::channel(&pool, channel, false)
            .await
            .unwrap()
            .unwrap(),
        &seal(&w),
        Utc::now(),
    )
    .unwrap()
    {
        channels::Opened::Webhook(h) => h,
        _ => unreachable!(),
    };
    let ts = Utc::now().timestamp();
    reqwest::Client::new()
        .post(&r.url)
        .header("webhook-id", webhook_id(second))
        .header("webhook-timestamp", ts.to_string())
        .header(
            "webhook-signature",
            webhook.secrets[0].sign(&webhook_id(second), ts, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    sqlx::query("UPDATE deliveries SET lease_until = now() - interval '1 second' WHERE id = $1")
        .bind(second)
        .execute(&pool)
        .await
        .unwrap();
    drain(&d, Duration::from_secs(10)).await;
    let ids: Vec<String> = r.got().iter().map(|g| g.id.clone()).collect();
    assert_eq!(ids.iter().filter(|i| **i == webhook_id(second)).count(), 2);
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        2,
        "after de-duplication by webhook-id: one each"
    );
    assert_eq!(logged(&pool, "webhook.delivered").await.len(), 2);
    let rows = deliveries(&pool).await;
    assert!(rows.iter().all(|r| r.status == "delivered"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_guard_refuses_private_addresses_before_connecting(pool: PgPool) {
    let w = World::new(&pool).await;
    // Refused when the channel is made, with the words that say how to allow it.
    for url in [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/hook",
    ] {
        let e = channels::create(
            &w.writer,
            &seal(&w),
            &Policy::default(),
            &ChannelSpec {
                name: "x".into(),
                kind: "webhook".into(),
                url: Some(url.into()),
                enabled: true,
                ..Default::default()
            },
            &Acting::cli(),
            Utc::now(),
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().contains("TRAILKEEP_OUTBOUND_ALLOW"),
            "{url}: {e}"
        );
    }
    // A channel made while 127.0.0.1 was allowed, then sent by a server that does not allow
    // it (an IP literal, and a name that resolves to loopback): refused, nothing reaches
    // the receiver.
    let r = Receiver::start().await;
    let literal = webhook(&w, &r, None).await;
    let (named, _) = channels::create(
        &w.writer,
        &seal(&w),
        &loopback(),
        &ChannelSpec {
            name: "by name".into(),
            kind: "webhook".into(),
            url: Some(r.url.replace("127.0.0.1", "localhost")),
            enabled: true,
            ..Default::default()
        },
        &Acting::cli(),
        Utc::now(),
    )
    .await
    .unwrap();
    let a = test_notification(&w, literal, 1).await;
    let b = test_notification(&w, named.id, 1).await;
    let mut strict = deliverer(&w);
    strict.outbound = Outbound::new(Policy::default());
    drain(&strict, Duration::from_secs(10)).await;
    assert!(r.got().is_empty(), "nothing was sent to a refused address");
    for id in [a, b] {
        let attempts = stored::attempts_of(&pool, id).await.unwrap();
        let error = attempts[0].error.clone().unwrap();
        assert!(error.contains("TRAILKEEP_OUTBOUND_ALLOW"), "{error}");
        assert_eq!(attempts[0].status_code, None);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn secrets_and_urls_are_stored_sealed_and_never_logged(pool: PgPool) {
    let w = World::new(&pool).await;
    let (row, secret) = channels::create(
        &w.writer,
        &seal(&w),
        &Policy::default(),
        &ChannelSpec {
            name: "Slack".into(),
            kind: "webhook".into(),
            url: Some("https://hooks.slack.com/services/T0/B0/s3cr3tt0ken".into()),
            body_format: Some("slack".into()),
            enabled: true,
            ..Default::default()
        },
        &Acting::cli(),
        Utc::now(),
    )
    .await
    .unwrap();
    let secret = secret.unwrap();
    let b64 = secret.trim_start_matches("whsec_");
    let dump: String = sqlx::query_scalar(
        "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM notification_channels) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let log: String =
        sqlx::query_scalar("SELECT string_agg(details::text, ' ') FROM audit_entries")
            .fetch_one(&pool)
            .await
            .unwrap();
    for text in [&dump, &log] {
        assert!(!text.contains("s3cr3tt0ken") && !text.contains(b64));
    }
    assert!(
        log.contains("https://hooks.slack.com"),
        "the origin is stated"
    );
    // Rotation: a new secret shown once; both sign for a day.
    let rotated = channels::rotate(&w.writer, &seal(&w), row.id, &Acting::cli(), Utc::now())
        .await
        .unwrap();
    assert_ne!(rotated, secret);
    let stored = stored::channel(&pool, row.id, false)
        .await
        .unwrap()
        .unwrap();
    match channels::open(&stored, &seal(&w), Utc::now()).unwrap() {
        channels::Opened::Webhook(h) => {
            assert_eq!(h.secrets.len(), 2);
            assert_eq!(h.secrets[0].text(), rotated);
            assert_eq!(h.secrets[1].text(), secret);
        }
        _ => unreachable!(),
    }
    match channels::open(&stored, &seal(&w), Utc::now() + TimeDelta::hours(25)).unwrap() {
        channels::Opened::Webhook(h) => assert_eq!(h.secrets.len(), 1),
        _ => unreachable!(),
    }
}

/// A Slack-format channel is sent `{"text": …}`, still signed.
#[sqlx::test(migrations = "../migrations")]
async fn a_slack_channel_gets_text_with_the_link(pool: PgPool) {
    let w = World::new(&pool).await;
    let r = Receiver::start().await;
    let channel = webhook(&w, &r, Some("slack")).await;
    test_notification(&w, channel, 5).await;
    drain(&deliverer(&w), Duration::from_secs(10)).await;
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert!(got[0].verified);
    let text = got[0].json()["text"].as_str().unwrap().to_string();
    assert!(text.contains("Test notification") && text.contains("https://audit.example.com/"));
}

/// An SMTP server: aiosmtpd from the project's venv, writing each message into a Maildir;
/// with a certificate, it requires STARTTLS.
struct Smtp {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A self-signed certificate for localhost and 127.0.0.1 (CA:FALSE, as webpki requires of a
/// server's certificate): (cert path, key path).
fn certificate(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args([
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl makes the test certificate");
    assert!(status.success());
    (cert, key)
}

async fn smtp(tls: Option<(&PathBuf, &PathBuf)>) -> Smtp {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py/bin/python3");
    assert!(
        python.exists(),
        "{} is missing: `make py` installs aiosmtpd 1.4.6 into target/py",
        python.display()
    );
    let dir = common::exports::temp_dir().join("maildir");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let port = free_port();
    let mut command = Command::new(&python);
    command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
    if let Some((cert, key)) = tls {
        command.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
    }
    command.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(&dir);
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Smtp { child, port, dir };
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("aiosmtpd did not start on port {port} within 30 s");
}

fn mails(s: &Smtp) -> Vec<String> {
    std::fs::read_dir(s.dir.join("new"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

async fn email_channel(w: &World, port: u16, security: &str) -> Uuid {
    channels::create(
        &w.writer,
        &seal(w),
        &loopback(),
        &ChannelSpec {
            name: "On call".into(),
            kind: "email".into(),
            smtp_host: Some(
                if security == "plain" {
                    "127.0.0.1"
                } else {
                    "localhost"
                }
                .into(),
            ),
            smtp_port: Some(port),
            smtp_security: Some(security.into()),
            mail_from: Some("trailkeep@example.com".into()),
            mail_to: vec!["oncall@example.com".into(), "security@example.com".into()],
            enabled: true,
            ..Default::default()
        },
        &Acting::cli(),
        Utc::now(),
    )
    .await
    .unwrap()
    .0
    .id
}

#[sqlx::test(migrations = "../migrations")]
async fn an_alert_is_emailed_through_a_real_smtp_server_over_starttls(pool: PgPool) {
    let w = World::new(&pool).await;
    let certs = common::exports::temp_dir();
    let (cert, key) = certificate(&certs);
    let server = smtp(Some((&cert, &key))).await;
    let channel = email_channel(&w, server.port, "starttls").await;
    let t0 = utc("2027-04-01T10:00:00Z");
    create(
        &w,
        &AlertRuleSpec {
            at_least: Some(3),
            window_secs: Some(600),
            channels: vec![channel],
            ..spec("action=user.login_failed", "threshold")
        },
        t0,
    )
    .await;
    let mut e = evaluator(&w, 500);
    e.attempts = 1;
    for i in 0..3 {
        record(
            &w,
            t0 + TimeDelta::seconds(i + 1),
            vec![failed("203.0.113.7")],
        )
        .await;
    }
    settle(&mut e).await;
    // Without the test's certificate trusted: refused (the certificate is checked).
    let untrusting = deliverer(&w);
    drain(&untrusting, Duration::from_secs(30)).await;
    assert!(mails(&server).is_empty());
    let first = deliveries(&pool).await.remove(0);
    let error = stored::attempts_of(&pool, first.id).await.unwrap()[0]
        .error
        .clone()
        .unwrap();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    // Redelivered by a server that trusts it: delivered over STARTTLS.
    let mut trusting = deliverer(&w);
    trusting.extra_roots = vec![std::fs::read(&cert).unwrap()];
    trusting.timeout = Duration::from_secs(10);
    let mut conn = pool.acquire().await.unwrap();
    assert!(stored::redeliver(&mut conn, first.id, 3).await.unwrap());
    drain(&trusting, Duration::from_secs(30)).await;
    let got = mails(&server);
    assert_eq!(got.len(), 1, "one message to both addresses");
    let m = &got[0];
    assert!(m.contains("From: Trailkeep <trailkeep@example.com>"), "{m}");
    assert!(m.contains("oncall@example.com") && m.contains("security@example.com"));
    assert!(
        m.contains("Subject: [Trailkeep] WARNING threshold action=user.login_failed"),
        "{m}"
    );
    assert!(
        m.contains("Count: 3") && m.contains("https://audit.example.com/audit?"),
        "{m}"
    );
    assert_eq!(logged(&pool, "email.delivered").await.len(), 1);
    assert_eq!(logged(&pool, "email.failed").await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_smtp_server_that_never_speaks_costs_one_timeout(pool: PgPool) {
    let w = World::new(&pool).await;
    // Accepts, then says nothing (no banner).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let channel = email_channel(&w, port, "plain").await;
    let id = test_notification(&w, channel, 1).await;
    let started = std::time::Instant::now();
    drain(&deliverer(&w), Duration::from_secs(20)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let error = stored::attempts_of(&pool, id).await.unwrap()[0]
        .error
        .clone()
        .unwrap();
    assert!(error.contains("did not finish within"), "{error}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_plain_smtp_server_for_tests_and_the_guard_on_its_address(pool: PgPool) {
    let w = World::new(&pool).await;
    let server = smtp(None).await;
    let channel = email_channel(&w, server.port, "plain").await;
    test_notification(&w, channel, 5).await;
    drain(&deliverer(&w), Duration::from_secs(20)).await;
    let got = mails(&server);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("Test notification"));
    // A server that does not allow 127.0.0.1 does not connect to it.
    let id = test_notification(&w, channel, 1).await;
    let mut strict = deliverer(&w);
    strict.outbound = Outbound::new(Policy::default());
    drain(&strict, Duration::from_secs(20)).await;
    assert_eq!(mails(&server).len(), 1);
    let error = stored::attempts_of(&pool, id).await.unwrap()[0]
        .error
        .clone()
        .unwrap();
    assert!(error.contains("TRAILKEEP_OUTBOUND_ALLOW"), "{error}");
}
