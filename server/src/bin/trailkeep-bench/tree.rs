//! `trailkeep-bench tree`: the Merkle tree on N demo entries, each figure against a baseline
//! run in the same command:
//! - integrating (service::tree::integrate: entries read, leaf hashes recomputed, stored
//!   hashes written) against computing the same tree in memory from the stored leaf hashes;
//! - an inclusion proof read from PostgreSQL (the stored hashes it needs fetched, then the
//!   proof computed) against reading one entry by seq, p50 and p95 over random leaves;
//! - a consistency proof (between two random sizes) against the same read;
//! - the stored hashes' size per entry;
//! - under sustained ingest (batches of 100 through the append path, the integrator and the
//!   signer running as in `serve`, signing each second): how long after its 201 an entry is
//!   covered by a signed checkpoint, against the signer's interval.

use std::time::Instant;

use rand_core::RngCore;

use crate::options::Options;
use trailkeep::infra::config;
use trailkeep::{domain::integrity::tree, service, storage};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub async fn tree(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--entries", "--proofs"])?;
    let n = o.number("--entries", 300_000)?;
    let proofs = o.number("--proofs", 1000)?.max(1);
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    let writer = storage::connect(&url, 4).await.map_err(|e| e.to_string())?;
    let have = storage::entries::count_all(&owner)
        .await
        .map_err(|e| e.to_string())?;
    if have as u64 != 0 {
        return Err("the benchmark needs an empty scratch database".into());
    }
    trailkeep::service::demo::seed_events(
        &writer,
        app::model::Source::Trailkeep,
        n,
        chrono::Utc::now(),
        |_, _| {},
    )
    .await
    .map_err(|e| e.to_string())?;
    let size = storage::entries::count_all(&owner)
        .await
        .map_err(|e| e.to_string())? as u64;

    // Baseline: the same tree in memory, from the stored leaf hashes, in the integrator's batches.
    let leaves: Vec<tree::Hash> =
        sqlx::query_scalar::<_, Vec<u8>>("SELECT leaf_hash FROM audit_entries ORDER BY seq")
            .fetch_all(&owner)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|h| h.try_into().expect("32 bytes"))
            .collect();
    let started = Instant::now();
    let mut memory = tree::Hashes::default();
    let mut at = 0u64;
    let mut memory_root = [0; 32];
    for batch in leaves.chunks(service::tree::BATCH as usize) {
        let (made, root) = tree::extend(at, batch, &memory).map_err(|e| e.to_string())?;
        for (k, h) in made.into_iter().enumerate() {
            memory.insert(tree::first_index(at) + k as u64, h);
        }
        at += batch.len() as u64;
        memory_root = root;
    }
    let memory_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let integrated = service::tree::integrate(&writer)
        .await
        .map_err(|e| e.to_string())?;
    let integrate_secs = started.elapsed().as_secs_f64();
    let (tree_size, root) = storage::tree::state(&owner)
        .await
        .map_err(|e| e.to_string())?;
    if integrated != size || tree_size != size || root != memory_root {
        return Err(format!(
            "integrated {integrated} of {size}; the stored root and the in-memory root differ"
        ));
    }

    // Proofs from PostgreSQL against reading one entry by seq.
    let mut rng = rand_core::OsRng;
    let (mut proof_ms, mut read_ms) = (Vec::new(), Vec::new());
    for _ in 0..proofs {
        let seq = rng.next_u64() % size;
        let started = Instant::now();
        let indexes = tree::needed(|r| tree::inclusion_proof(seq, size, r));
        let hashes = storage::tree::hashes(&writer, &indexes)
            .await
            .map_err(|e| e.to_string())?;
        let proof = tree::inclusion_proof(seq, size, &hashes).map_err(|e| e.to_string())?;
        proof_ms.push(started.elapsed().as_secs_f64() * 1e3);
        tree::check_inclusion(&proof, size, root, seq, leaves[seq as usize])
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        storage::entries::rows_by_seq(&writer, seq as i64, seq as i64 + 1)
            .await
            .map_err(|e| e.to_string())?;
        read_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let mut consistency_ms = Vec::new();
    for _ in 0..proofs {
        let (a, b) = (1 + rng.next_u64() % size, 1 + rng.next_u64() % size);
        let (from, to) = (a.min(b), a.max(b));
        let started = Instant::now();
        let indexes = tree::needed(|r| tree::consistency_proof(from, to, r));
        let hashes = storage::tree::hashes(&writer, &indexes)
            .await
            .map_err(|e| e.to_string())?;
        tree::consistency_proof(from, to, &hashes).map_err(|e| e.to_string())?;
        consistency_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    proof_ms.sort_by(f64::total_cmp);
    read_ms.sort_by(f64::total_cmp);
    consistency_ms.sort_by(f64::total_cmp);
    let lag = checkpoint_lag(&writer).await?;
    let table_bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('tree_hashes')")
        .fetch_one(&owner)
        .await
        .map_err(|e| e.to_string())?;

    println!("entries: {size}; proofs: {proofs}");
    println!("| what | figure | baseline | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| build the tree: integrate (PostgreSQL) vs in memory | {:.0} entries/s | {:.0} entries/s | {:.2} |",
        size as f64 / integrate_secs,
        size as f64 / memory_secs,
        memory_secs / integrate_secs
    );
    for (label, p) in [("p50", 0.5), ("p95", 0.95)] {
        println!(
            "| inclusion proof {label} vs one entry by seq | {:.2} ms | {:.2} ms | {:.2} |",
            percentile(&proof_ms, p),
            percentile(&read_ms, p),
            percentile(&proof_ms, p) / percentile(&read_ms, p)
        );
    }
    println!(
        "| consistency proof p95 vs one entry by seq | {:.2} ms | {:.2} ms | {:.2} |",
        percentile(&consistency_ms, 0.95),
        percentile(&read_ms, 0.95),
        percentile(&consistency_ms, 0.95) / percentile(&read_ms, 0.95)
    );
    for (label, p) in [("p50", 0.5), ("p95", 0.95)] {
        println!(
            "| 201 → covered by a signed checkpoint, {label}, sustained ingest ({:.0} entries/s) vs the signer's 1 s interval | {:.2} s | 1 s | {:.2} |",
            lag.rate,
            percentile(&lag.seconds, p),
            percentile(&lag.seconds, p)
        );
    }
    println!(
        "| stored hashes per entry (table with index and TOAST) | {:.1} bytes | 32 bytes (one hash) | {:.2} |",
        table_bytes as f64 / size as f64,
        table_bytes as f64 / size as f64 / 32.0
    );
    Ok(())
}

struct Lag {
    seconds: Vec<f64>,
    rate: f64,
}

/// Ingests batches of 100 for 20 s while the integrator and the signer (1 s) run as in `serve`;
/// for each batch, the time from its acknowledgement until a stored checkpoint covers it.
async fn checkpoint_lag(writer: &sqlx::PgPool) -> Result<Lag, String> {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let key = trailkeep::domain::integrity::checkpoint::SigningKey::generate(
        "bench.trailkeep.localhost/log",
        &mut rand_core::OsRng,
    )
    .map_err(|e| e.to_string())?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = |n: Arc<tokio::sync::Notify>| async move { n.notified().await };
    let integrator = tokio::spawn(service::tree::run(writer.clone(), stopped(stop.clone())));
    let signer = tokio::spawn(service::checkpoints::run(
        writer.clone(),
        key,
        Duration::from_secs(1),
        None,
        stopped(stop.clone()),
    ));
    // (last seq of the batch, when it was acknowledged)
    let acked: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let mut covered: Vec<(i64, Instant)> = Vec::new();
    let started = Instant::now();
    let ingest = {
        let (writer, acked) = (writer.clone(), acked.clone());
        tokio::spawn(async move {
            let mut events = trailkeep::service::demo::events(1_000_000, chrono::Utc::now());
            let mut n = 0u64;
            while started.elapsed() < Duration::from_secs(20) {
                let batch: Vec<_> = events.by_ref().take(100).collect();
                let done = storage::entries::append(&writer, app::model::Source::Trailkeep, batch)
                    .await
                    .map_err(|e| e.to_string())?;
                n += 100;
                if let Some(last) = done.last() {
                    acked
                        .lock()
                        .expect("not poisoned")
                        .push((last.seq, Instant::now()));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok::<u64, String>(n)
        })
    };
    while !ingest.is_finished()
        || covered.last().map(|c| c.0) < acked.lock().expect("not poisoned").last().map(|a| a.0 + 1)
    {
        if let Some(cp) = storage::checkpoints::latest(writer)
            .await
            .map_err(|e| e.to_string())?
        {
            if covered.last().map(|c| c.0) != Some(cp.size) {
                covered.push((cp.size, Instant::now()));
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("checkpoints stopped covering new entries".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let n = ingest.await.map_err(|e| e.to_string())??;
    let rate = n as f64 / 20.0;
    stop.notify_waiters();
    let _ = (integrator.await, signer.await);
    let mut seconds: Vec<f64> = acked
        .lock()
        .expect("not poisoned")
        .iter()
        .filter_map(|(seq, at)| {
            covered
                .iter()
                .find(|(size, _)| size > seq)
                .map(|(_, when)| when.saturating_duration_since(*at).as_secs_f64())
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    if seconds.is_empty() {
        return Err("no batch was covered".into());
    }
    Ok(Lag { seconds, rate })
}
