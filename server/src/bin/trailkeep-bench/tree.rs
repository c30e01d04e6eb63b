//! `trailkeep-bench tree`: the Merkle tree on N demo entries, each figure against a baseline
//! run in the same command:
//! - integrating (service::tree::integrate: entries read, leaf hashes recomputed, stored
//!   hashes written) against computing the same tree in memory from the stored leaf hashes;
//! - an inclusion proof read from PostgreSQL (the stored hashes it needs fetched, then the
//!   proof computed) against reading one entry by seq, p50 and p95 over random leaves;
//! - the stored hashes' size per entry.

use std::time::Instant;

use rand_core::RngCore;

use trailkeep::infra::{cli::Options, config};
use trailkeep::{domain::tree, service, storage};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub async fn tree(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--entries", "--proofs"])?;
    let n = o.number("--entries", 300_000)?;
    let proofs = o.number("--proofs", 1000)?.max(1);
    let url = config::database_url()?;
    let owner = storage::connect_owner(&url).await?;
    storage::migrate(&owner).await?;
    let writer = storage::connect(&url, 4).await?;
    let have = storage::entries::count_all(&owner)
        .await
        .map_err(|e| e.to_string())?;
    if have as u64 != 0 {
        return Err("the benchmark needs an empty scratch database".into());
    }
    trailkeep::infra::cli::seed_events(
        &writer,
        app::model::Source::Trailkeep,
        n,
        chrono::Utc::now(),
    )
    .await?;
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
    proof_ms.sort_by(f64::total_cmp);
    read_ms.sort_by(f64::total_cmp);
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
        "| stored hashes per entry (table with index and TOAST) | {:.1} bytes | 32 bytes (one hash) | {:.2} |",
        table_bytes as f64 / size as f64,
        table_bytes as f64 / size as f64 / 32.0
    );
    Ok(())
}
