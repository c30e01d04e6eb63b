//! `trailkeep-bench live`: commit → websocket receive latency with 1, 100 and 1000 connected
//! clients at a steady ingest rate, next to the raw LISTEN/NOTIFY round trip measured in the
//! same run. Server, clients and ingest share this process (and this machine's cores), so the
//! figures include the clients' own work. Point DATABASE_URL at a scratch database.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use crate::options::Options;
use trailkeep::domain::{auth::Scope, entry::event::parse_batch};
use trailkeep::infra::config;
use trailkeep::service::accounts::{self, Acting};
use trailkeep::storage::{self, entries, live};

/// When each entry was handed to `append` (before its commit), by seq.
type Sent = Arc<Mutex<HashMap<i64, Instant>>>;
/// (seq, when it arrived) for every entry a client received.
type Received = Arc<Mutex<Vec<(i64, Instant)>>>;

pub async fn live(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--clients", "--rate", "--seconds"])?;
    let rate = o.number("--rate", 200)?.max(1);
    let seconds = o.number("--seconds", 10)?.max(1);
    let client_counts: Vec<usize> = o
        .value("--clients")
        .unwrap_or("1,100,1000")
        .split(',')
        .map(|n| n.trim().parse().map_err(|_| format!("--clients: {n:?}")))
        .collect::<Result<_, _>>()?;
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    let pool = storage::connect(&url, 16)
        .await
        .map_err(|e| e.to_string())?;
    let (_, key) = accounts::create_key(&pool, "bench", &[Scope::Read], &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    let addr = crate::throughput::serve_here(&pool).await?;

    println!(
        "ingest: {rate} events/s for {seconds} s, one event per commit; latency = append call → \
         message received"
    );
    println!("| clients | websocket p50 ms | p99 ms | raw NOTIFY p50 ms | p99 ms | p99 ratio | delivered |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for clients in client_counts {
        let (ws, raw, delivered) = run(&pool, addr, &key, clients, rate, seconds).await?;
        println!(
            "| {clients} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {delivered} |",
            ws.0,
            ws.1,
            raw.0,
            raw.1,
            ws.1 / raw.1
        );
    }
    Ok(())
}

/// The `seq` of an entry message, read without parsing the whole entry (the clients here
/// share the server's cores; a browser parses its one stream fully).
fn entry_seq(text: &str) -> Option<i64> {
    if !text.starts_with(r#"{"type":"entry""#) {
        return None;
    }
    let rest = &text[text.find(r#""seq":"#)? + 6..];
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// p50 and p99 in milliseconds.
fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    if ms.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    (at(0.50), at(0.99))
}

async fn run(
    pool: &PgPool,
    addr: SocketAddr,
    key: &str,
    clients: usize,
    rate: u64,
    seconds: u64,
) -> Result<((f64, f64), (f64, f64), String), String> {
    let mut receivers: Vec<Received> = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut request = format!("ws://{addr}/api/v1/live")
            .into_client_request()
            .map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {key}").parse().map_err(|_| "bad key")?,
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| format!("websocket client: {e} (raise `ulimit -n` for many clients)"))?;
        let got: Received = Arc::default();
        receivers.push(got.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                if let Message::Text(text) = frame {
                    if let Some(seq) = entry_seq(&text) {
                        got.lock().unwrap().push((seq, Instant::now()));
                    }
                }
            }
        }));
    }
    // The raw round trip: a plain listener on the same channel, in the same run.
    let mut listener = live::listen(pool).await.map_err(|e| e.to_string())?;
    let raw: Received = Arc::default();
    let raw_task = tokio::spawn({
        let raw = raw.clone();
        async move {
            while let Ok(n) = listener.recv().await {
                if let Some(seq) = live::announced_seq(n.payload()) {
                    raw.lock().unwrap().push((seq, Instant::now()));
                }
            }
        }
    });
    // Let every client's subscription settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sent: Sent = Arc::default();
    let event = parse_batch(&serde_json::json!({
        "action": "config.updated", "actor": {"id": "bench"}, "details": {"bench": true}
    }))
    .map_err(|e| format!("{e:?}"))?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let total = rate * seconds;
    for _ in 0..total {
        tick.tick().await;
        let started = Instant::now();
        let appended = entries::append(pool, app::model::Source::Trailkeep, event.clone())
            .await
            .map_err(|e| format!("append: {e}"))?;
        sent.lock().unwrap().insert(appended[0].seq, started);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for t in tasks {
        t.abort();
    }
    raw_task.abort();

    let sent = sent.lock().unwrap();
    let latencies = |got: &[(i64, Instant)]| -> Vec<f64> {
        got.iter()
            .filter_map(|(seq, at)| sent.get(seq).map(|s| (*at - *s).as_secs_f64() * 1000.0))
            .collect()
    };
    let mut all = Vec::new();
    let mut complete = 0;
    for r in &receivers {
        let got = r.lock().unwrap();
        let mine = latencies(&got);
        if mine.len() as u64 == total {
            complete += 1;
        }
        all.extend(mine);
    }
    let raw_ms = latencies(&raw.lock().unwrap());
    Ok((
        percentiles(all),
        percentiles(raw_ms),
        format!("{complete}/{clients} clients got all {total}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seq_is_read_from_an_entry_message() {
        assert_eq!(
            entry_seq(r#"{"type":"entry","entry":{"id":"x","seq":1234,"action":"a.b"}}"#),
            Some(1234)
        );
        assert_eq!(entry_seq(r#"{"type":"heartbeat","seq":9}"#), None);
    }

    #[test]
    fn percentiles_pick_ranks() {
        let ms: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentiles(ms), (51.0, 99.0));
    }
}
