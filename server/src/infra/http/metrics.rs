//! `GET /api/v1/metrics`: this process's counters and gauges in the Prometheus text format
//! (version 0.0.4), for a read-scope key or a signed-in reader (Prometheus:
//! `authorization: {type: Bearer, credentials: tk_…}`). Each process answers for itself, so
//! scrape every process. Labels take values from bounded sets only (route templates, status
//! codes), never from what a client sent.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{auth::Reader, error::Refused, serve, AppState};
use crate::storage;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Time to a response's head, by route: how many took at most each bucket's bound.
#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Counters {
    /// Answers by (method, route template, status).
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Latency by (method, route template).
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    /// Events acknowledged by the ingest API (201), retries included.
    ingested: AtomicU64,
    /// Batches refused (429) for a key's rate limit, and for its daily quota.
    limited_minute: AtomicU64,
    limited_day: AtomicU64,
    /// Exports dropped because their client read slower than the floor.
    exports_too_slow: AtomicU64,
}

static COUNTERS: LazyLock<Counters> = LazyLock::new(Counters::default);

/// When the process started (set when its router is built).
pub static STARTED: LazyLock<std::time::SystemTime> = LazyLock::new(std::time::SystemTime::now);

/// A metric family: name, kind, help, and its samples as (labels, value).
type Family = (&'static str, &'static str, &'static str, Vec<(String, f64)>);

/// `# HELP` and `# TYPE` of a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One histogram's samples: cumulative counts per bucket bound, then +Inf, sum and count.
fn histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    cumulative: impl Iterator<Item = (f64, u64)>,
    count: u64,
    sum: f64,
) {
    for (bound, n) in cumulative {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels},le=\"+Inf\"}} {count}\n{name}_sum{{{labels}}} {sum}\n{name}_count{{{labels}}} {count}"
    );
}

/// Counts every answer by its route template (`/api/v1/events/{id}`, never the id itself).
pub async fn count_requests(request: Request, next: Next) -> Response {
    // Any token is a method to HTTP: only the standard ones become labels.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    {
        let mut latency = COUNTERS.latency.lock().expect("not poisoned");
        let h = latency.entry((method.clone(), route.clone())).or_default();
        for (bound, n) in BUCKETS.iter().zip(h.buckets.iter_mut()) {
            if seconds <= *bound {
                *n += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }
    let key = (method, route, response.status().as_u16());
    *COUNTERS
        .requests
        .lock()
        .expect("not poisoned")
        .entry(key)
        .or_default() += 1;
    response
}

/// `n` events were acknowledged by the ingest API.
pub fn ingested(n: usize) {
    COUNTERS.ingested.fetch_add(n as u64, Ordering::Relaxed);
}

/// A batch was refused for a key's limit.
pub fn ingest_limited(limit: crate::service::ingest::Limit) {
    let counter = match limit {
        crate::service::ingest::Limit::PerMinute => &COUNTERS.limited_minute,
        crate::service::ingest::Limit::PerDay => &COUNTERS.limited_day,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// An export was dropped for reading slower than the floor.
pub fn export_too_slow() {
    COUNTERS.exports_too_slow.fetch_add(1, Ordering::Relaxed);
}

/// The metrics of this process.
#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    tag = "query",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn metrics(_: Reader, State(state): State<AppState>) -> Response {
    let mut out = String::new();
    family(
        &mut out,
        "trailkeep_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route and status.",
    );
    for ((method, route, status), n) in COUNTERS.requests.lock().expect("not poisoned").iter() {
        let _ = writeln!(
            out,
            "trailkeep_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
            route.replace('\\', "\\\\").replace('"', "\\\"")
        );
    }
    family(
        &mut out,
        "trailkeep_http_request_duration_seconds",
        "histogram",
        "Time from a request to its response's head, by method and route (ingest is POST /api/v1/events).",
    );
    for ((method, route), h) in COUNTERS.latency.lock().expect("not poisoned").iter() {
        let labels = format!(
            "method=\"{method}\",route=\"{}\"",
            route.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let buckets = BUCKETS.iter().copied().zip(h.buckets.iter().copied());
        histogram(
            &mut out,
            "trailkeep_http_request_duration_seconds",
            &labels,
            buckets,
            h.count,
            h.sum,
        );
    }
    family(
        &mut out,
        "trailkeep_db_pool_wait_seconds",
        "histogram",
        "Time an append (pool write) or a read (pool read) waited for a database connection.",
    );
    for waits in [&storage::pools::WRITES, &storage::pools::READS] {
        let w = waits.counts();
        let buckets = storage::pools::WAIT_BUCKETS
            .iter()
            .copied()
            .zip(w.cumulative);
        let labels = format!("pool=\"{}\"", w.pool);
        histogram(
            &mut out,
            "trailkeep_db_pool_wait_seconds",
            &labels,
            buckets,
            w.count,
            w.sum_seconds,
        );
    }
    let gauges: Vec<Family> = vec![
        (
            "trailkeep_events_ingested_total",
            "counter",
            "Events acknowledged (201) by the ingest API.",
            vec![(String::new(), COUNTERS.ingested.load(Ordering::Relaxed) as f64)],
        ),
        (
            "trailkeep_ingest_refused_total",
            "counter",
            "Batches refused with 429 by a key's limit (limit: minute or day).",
            vec![
                (
                    "{limit=\"minute\"}".to_string(),
                    COUNTERS.limited_minute.load(Ordering::Relaxed) as f64,
                ),
                (
                    "{limit=\"day\"}".to_string(),
                    COUNTERS.limited_day.load(Ordering::Relaxed) as f64,
                ),
            ],
        ),
        (
            "trailkeep_exports_too_slow_total",
            "counter",
            "Exports dropped because their client read slower than the floor.",
            vec![(
                String::new(),
                COUNTERS.exports_too_slow.load(Ordering::Relaxed) as f64,
            )],
        ),
        (
            "trailkeep_http_connections",
            "gauge",
            "HTTP connections open now (live sockets are counted apart).",
            vec![(String::new(), serve::open_connections() as f64)],
        ),
        (
            "trailkeep_live_sockets",
            "gauge",
            "Live sockets open now.",
            vec![(String::new(), state.live_slots.running() as f64)],
        ),
        (
            "trailkeep_db_pool_timeouts_total",
            "counter",
            "Requests that waited for a database connection until the pool's 10 s acquire timeout (answered 503).",
            vec![(
                String::new(),
                super::error::POOL_TIMEOUTS.load(Ordering::Relaxed) as f64,
            )],
        ),
        (
            "trailkeep_live_listener_reconnects_total",
            "counter",
            "Times this process's live listener lost its connection and made it again.",
            vec![(String::new(), state.bridge.reconnects() as f64)],
        ),
        (
            "trailkeep_exports_running",
            "gauge",
            "Exports streaming now.",
            vec![(String::new(), state.export_slots.running() as f64)],
        ),
        (
            "trailkeep_db_connections",
            "gauge",
            "Database connections by pool (write: appending, sessions; read: searches, exports) and state.",
            [("write", &state.pool), ("read", &state.reads)]
                .into_iter()
                .flat_map(|(name, pool)| {
                    let idle = pool.num_idle() as f64;
                    let size = pool.size() as f64;
                    [
                        (format!("{{pool=\"{name}\",state=\"idle\"}}"), idle),
                        (format!("{{pool=\"{name}\",state=\"in_use\"}}"), size - idle),
                    ]
                })
                .collect(),
        ),
        (
            "trailkeep_process_start_time_seconds",
            "gauge",
            "When this process started, in Unix seconds.",
            vec![(
                String::new(),
                STARTED
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs() as f64),
            )],
        ),
    ];
    for (name, kind, help, samples) in gauges {
        family(&mut out, name, kind, help);
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    }
    // The chain head, as the database says (every process agrees).
    let head = storage::live::head_seq(&state.reads).await;
    family(
        &mut out,
        "trailkeep_log_entries",
        "gauge",
        "Entries in the log (the chain head's next seq); absent when the database did not answer.",
    );
    family(
        &mut out,
        "trailkeep_chain_head_seq",
        "gauge",
        "The seq of the newest entry (-1 for an empty log).",
    );
    if let Ok(head) = head {
        let _ = writeln!(out, "trailkeep_log_entries {}", head + 1);
        let _ = writeln!(out, "trailkeep_chain_head_seq {head}");
    }
    family(
        &mut out,
        "trailkeep_merkle_tree_entries",
        "gauge",
        "Entries the Merkle tree covers (the integrator's lag is trailkeep_log_entries minus this).",
    );
    if let Ok((size, _)) = storage::tree::state(&state.reads).await {
        let _ = writeln!(out, "trailkeep_merkle_tree_entries {size}");
    }
    family(
        &mut out,
        "trailkeep_integrity_ok",
        "gauge",
        "1 while the Merkle tree grows and the signer signs, 0 on an integrity alarm (a stopped \
         tree, a refused or unverifiable checkpoint: see /readyz and the error log); absent when \
         the database did not answer.",
    );
    let current = storage::migrations_current(&state.pool)
        .await
        .unwrap_or(false);
    if let Some(ok) = super::probes::integrity(&state, current).await.ok {
        let _ = writeln!(out, "trailkeep_integrity_ok {}", u8::from(ok));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
