//! `trailkeep-bench export`: CSV and NDJSON export of every entry through the HTTP endpoint,
//! as rows/s and as a ratio to `psql \copy (SELECT …) TO STDOUT CSV` of the same rows in the
//! same run, with the process's resident memory sampled during each export. Uses a dedicated
//! database seeded with `--entries` demo entries once (kept for reruns).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::options::Options;
use trailkeep::domain::auth::Scope;
use trailkeep::infra::config;
use trailkeep::service::accounts::{self, Acting};
use trailkeep::storage::{self, entries};

pub async fn export(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--entries"])?;
    let n = o.number("--entries", 1_000_000)? as i64;
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    crate::throughput::seed_if_empty(&owner, n).await?;
    let pool = storage::connect(&url, 8).await.map_err(|e| e.to_string())?;
    let (_, key) = accounts::create_key(&pool, "bench", &[Scope::Read], &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    let addr = crate::throughput::serve_here(&pool).await?;

    // The baseline: psql's own CSV of the same rows in the same order.
    let columns = "occurred_at, actor_type, actor_id, actor_name, actor_email, action, \
        resource_type, resource_id, host(ip), status, user_agent, details, seq, id, \
        encode(leaf_hash, 'hex')";
    let copy = format!(
        "\\copy (SELECT {columns} FROM audit_entries ORDER BY occurred_at DESC, seq DESC) TO STDOUT CSV HEADER"
    );
    let started = Instant::now();
    let psql_url = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("psql")
            .arg(&psql_url)
            .arg("-qXc")
            .arg(&copy)
            .output()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("psql: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let copy_secs = started.elapsed().as_secs_f64();
    let copy_rows = out.stdout.iter().filter(|b| **b == b'\n').count() as i64 - 1;
    drop(out);

    let rows = entries::count_all(&pool).await.map_err(|e| e.to_string())?;
    println!("entries: {rows} (psql \\copy wrote {copy_rows} rows)");
    println!(
        "| path | seconds | rows/s | ratio to psql \\copy | first byte ms | peak RSS growth MB |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| psql `\\copy (SELECT …) TO STDOUT CSV` (baseline) | {copy_secs:.2} | {:.0} | 1.00 | | |",
        copy_rows as f64 / copy_secs
    );
    for format in ["csv", "ndjson"] {
        let (secs, first_ms, bytes, rss_mb) = download(addr, &key, format, "").await?;
        println!(
            "| export `format={format}` over HTTP ({:.0} MB) | {secs:.2} | {:.0} | {:.2} | {first_ms:.0} | {rss_mb:.1} |",
            bytes as f64 / 1e6,
            rows as f64 / secs,
            copy_secs / secs
        );
    }

    // The PDF report of about 10,000 entries: the most recent ones, by seq.
    let from_seq = (rows - 10_000).max(0);
    let day: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT occurred_at FROM audit_entries WHERE seq = $1")
            .bind(from_seq)
            .fetch_one(&pool)
            .await
            .map_err(|e| e.to_string())?;
    let filter = format!(
        "from={}",
        day.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .replace('+', "%2B")
            .replace(':', "%3A")
    );
    let filtered = trailkeep::storage::query::count(
        &pool,
        &app::filter::Filter::parse(&filter).map_err(|e| e.to_string())?,
    )
    .await
    .map_err(|e| format!("{e:?}"))?;
    let (secs, _, bytes, rss_mb) = download(addr, &key, "pdf", &filter).await?;
    // One line per entry: a lower bound (entries with changes take more lines).
    let pages =
        trailkeep::domain::export::report::page_count(std::iter::repeat_n(1, filtered as usize));
    println!();
    println!(
        "PDF report of {filtered} entries: at least {pages} pages, {:.1} MB, {secs:.2} s = {:.0} pages/s \
         ({:.0} entries/s), peak RSS growth {rss_mb:.1} MB",
        bytes as f64 / 1e6,
        pages as f64 / secs,
        filtered as f64 / secs
    );
    Ok(())
}

/// Resident memory of this process, in kB.
pub(crate) fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `work`: its result, seconds, and the largest growth of resident memory (MB).
pub(crate) async fn measured<T>(work: impl std::future::Future<Output = T>) -> (T, f64, f64) {
    let baseline = rss_kb();
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(rss_kb(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let started = Instant::now();
    let out = work.await;
    let secs = started.elapsed().as_secs_f64();
    sampler.abort();
    let grown = peak.load(Ordering::Relaxed).saturating_sub(baseline) as f64 / 1024.0;
    (out, secs, grown)
}

/// Downloads the whole export, discarding it: seconds, time to first byte, bytes, and the
/// largest growth of resident memory seen while it ran.
pub(crate) async fn download(
    addr: SocketAddr,
    key: &str,
    format: &str,
    filter: &str,
) -> Result<(f64, f64, u64, f64), String> {
    let started = Instant::now();
    let (result, secs, grown) = measured(async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(
                format!(
                    "GET /api/v1/events/export?format={format}&{filter} HTTP/1.1\r\nHost: {addr}\r\n\
                     Authorization: Bearer {key}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut bytes = 0u64;
        let mut first = None;
        loop {
            let read = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if read == 0 {
                break;
            }
            first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
            bytes += read as u64;
        }
        Ok::<_, String>((first, bytes))
    })
    .await;
    let (first, bytes) = result?;
    Ok((secs, first.unwrap_or(0.0), bytes, grown))
}
