//! `trailkeep-bench bundle`: a month of `--entries` entries (the seeded database of `bench
//! export`) archived as a bundle — built, then put into a directory, and built again and
//! uploaded to an S3 server on loopback (moto, from target/py, under Object Lock) — against
//! the streaming NDJSON export of the same entries over HTTP in the same run, with the peak
//! growth of resident memory during each.

use std::sync::Arc;
use std::time::Duration;

use trailkeep::domain::auth::Scope;
use trailkeep::domain::export::months::{month_of, next_month};
use trailkeep::domain::export::s3::{Credentials, Target};
use trailkeep::domain::export::schedule::Period;
use trailkeep::domain::integrity::checkpoint::SigningKey;
use trailkeep::infra::config;
use trailkeep::service::accounts::{self, Acting};
use trailkeep::service::archive::Archiver;
use trailkeep::service::destination::ExportRoot;
use trailkeep::service::outbound::Outbound;
use trailkeep::service::s3::Store;
use trailkeep::storage::{self, entries};

use crate::export::measured;
use crate::options::Options;

pub async fn bundle(words: &[&str]) -> Result<(), String> {
    let o = Options::new(words, &["--entries"])?;
    let n = o.number("--entries", 1_000_000)? as i64;
    let url = config::database_url().map_err(|e| e.to_string())?;
    let owner = storage::connect_owner(&url)
        .await
        .map_err(|e| e.to_string())?;
    storage::migrate(&owner).await.map_err(|e| e.to_string())?;
    crate::throughput::seed_if_empty(&owner, n).await?;
    let pool = storage::connect(&url, 8).await.map_err(|e| e.to_string())?;
    let rows = entries::count_all(&pool).await.map_err(|e| e.to_string())?;
    // The Merkle tree over every entry (the server's integrator does this as entries arrive).
    trailkeep::service::tree::integrate(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let (_, read_key) = accounts::create_key(&pool, "bench", &[Scope::Read], &Acting::cli())
        .await
        .map_err(|e| e.to_string())?;
    let addr = crate::throughput::serve_here(&pool).await?;

    // The period: the months holding every entry (the seed is recorded within minutes).
    let (first, last): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "SELECT (SELECT recorded_at FROM audit_entries ORDER BY seq LIMIT 1), \
                    (SELECT recorded_at FROM audit_entries ORDER BY seq DESC LIMIT 1)",
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let period = Period {
        start: month_of(first),
        end: next_month(month_of(last)),
    };
    let dir = std::env::temp_dir().join(format!("trailkeep-bench-bundle-{}", std::process::id()));
    let root = ExportRoot::new(&dir);
    let key = SigningKey::generate("trailkeep.bench/log", &mut rand_core::OsRng)
        .map_err(|e| e.to_string())?;
    let archiver = Archiver {
        pool: pool.clone(),
        reads: pool.clone(),
        log_key: Arc::new(key.verifier().clone()),
        signing_key: Some(Arc::new(key.clone())),
        signer_memory: None,
        work_dir: root.work_dir(),
    };
    let schedule = uuid::Uuid::new_v4();
    let filter = app::filter::Filter::default();
    // Sign the covering checkpoints once, outside the timings.
    archiver
        .build(schedule, &filter, period, uuid::Uuid::new_v4(), period.end)
        .await
        .map_err(|e| e.to_string())?
        .discard();

    println!("entries: {rows}; period {} to {}", period.start, period.end);
    println!(
        "| path | seconds | entries/s | ratio to streaming NDJSON | MB | peak RSS growth MB |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let (stream_secs, _, stream_bytes, stream_rss) =
        crate::export::download(addr, &read_key, "ndjson", "").await?;
    println!(
        "| streaming export `format=ndjson` over HTTP (baseline) | {stream_secs:.2} | {:.0} | 1.00 | {:.0} | {stream_rss:.1} |",
        rows as f64 / stream_secs,
        stream_bytes as f64 / 1e6
    );

    let (result, secs, rss) = measured(async {
        let built = archiver
            .build(schedule, &filter, period, uuid::Uuid::new_v4(), period.end)
            .await
            .map_err(|e| e.to_string())?;
        let bytes = built.bytes;
        root.put(&built.path, "bench", "month.tar.gz")
            .map_err(|e| e.to_string())?;
        Ok::<u64, String>(bytes)
    })
    .await;
    let bytes = result?;
    println!(
        "| bundle built and put in a directory (fsync, rename) | {secs:.2} | {:.0} | {:.2} | {:.0} | {rss:.1} |",
        rows as f64 / secs,
        stream_secs / secs,
        bytes as f64 / 1e6
    );

    let moto =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py/bin/python3");
    if !moto.exists() {
        return Err(format!(
            "{} is missing: `make py` installs moto",
            moto.display()
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| e.to_string())?
        .local_addr()
        .map_err(|e| e.to_string())?
        .port();
    let mut child = std::process::Command::new(&moto)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let outcome = async {
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let endpoint = format!("http://127.0.0.1:{port}");
        let outbound = Outbound::new(
            trailkeep::domain::outbound::Policy::parse("127.0.0.1").map_err(|e| e.to_string())?,
        );
        create_locked_bucket(&outbound, &endpoint).await?;
        let target = Target::new(&endpoint, "us-east-1", "bench-archive", "", true, "COMPLIANCE", 1)
            .map_err(|e| e.to_string())?;
        let store = Store::new(target, &Credentials::new("bench", "bench-secret").map_err(|e| e.to_string())?, outbound)
            .map_err(|e| e.to_string())?;
        let built = archiver
            .build(schedule, &filter, period, uuid::Uuid::new_v4(), period.end)
            .await
            .map_err(|e| e.to_string())?;
        let (up, up_secs, up_rss) =
            measured(store.put_file(&built.path, "month.tar.gz", chrono::Utc::now())).await;
        let up = up.map_err(|e| e.to_string())?;
        built.discard();
        println!(
            "| the bundle uploaded to S3 on loopback (moto; {} parts, lock confirmed by HEAD) | {up_secs:.2} | {:.0} | {:.2} | {:.0} | {up_rss:.1} |",
            up.parts,
            rows as f64 / up_secs,
            stream_secs / up_secs,
            bytes as f64 / 1e6
        );
        Ok::<(), String>(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// A bucket with Object Lock on the S3 server at `endpoint`.
async fn create_locked_bucket(outbound: &Outbound, endpoint: &str) -> Result<(), String> {
    use rusty_s3::S3Action;
    let bucket = rusty_s3::Bucket::new(
        endpoint
            .parse()
            .map_err(|e: url::ParseError| e.to_string())?,
        rusty_s3::UrlStyle::Path,
        "bench-archive",
        "us-east-1",
    )
    .map_err(|e| e.to_string())?;
    let creds = rusty_s3::Credentials::new("bench", "bench-secret");
    let mut create = bucket.create_bucket(&creds);
    create
        .headers_mut()
        .insert("x-amz-bucket-object-lock-enabled", "true");
    let url = create.sign(Duration::from_secs(60));
    let mut rb = outbound.client.put(url.as_str());
    for (k, v) in create.headers_mut().iter() {
        rb = rb.header(k, v);
    }
    let r = rb
        .header("content-length", "0")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("creating the bucket: {}", r.status()));
    }
    Ok(())
}
