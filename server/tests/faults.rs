//! Faults with real processes: `trailkeep serve` stopped by SIGTERM finishes what it
//! acknowledged and tells live clients to reconnect; and the crash test: six clients ingest
//! through two server processes while one is killed with SIGKILL and PostgreSQL itself is
//! restarted in immediate mode (a crash). Every acknowledged entry is there, no answer is a
//! 500, the chain verifies gapless, and the Merkle tree and every checkpoint signed meanwhile
//! verify.

mod common;

use common::processes::{self, free_port, http, start, Server};

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;
use trailkeep::{
    domain::auth::Scope,
    service::accounts::{self, Acting},
    service::{checkpoints, tree::TreeVerdict},
    storage::{self, entries},
};

/// How many of `ids` the log holds.
async fn stored(pool: &PgPool, ids: &[uuid::Uuid]) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE id = ANY($1)")
        .bind(ids)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn signal(server: &Server, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.process.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

/// What the clients saw: acknowledged ids, and any answer that is neither a 201 nor one a
/// client should retry (a 503, or a connection that failed).
#[derive(Default)]
struct Seen {
    acked: BTreeSet<uuid::Uuid>,
    bad: Vec<String>,
    retried: usize,
}

/// A client that ingests batches of five events with ids of its own until `until`, retrying
/// each batch (same ids) on the servers in turn until it is acknowledged.
async fn client(servers: Vec<SocketAddr>, key: String, until: Instant, seen: Arc<Mutex<Seen>>) {
    let mut turn = 0usize;
    while Instant::now() < until {
        let ids: Vec<uuid::Uuid> = (0..5).map(|_| uuid::Uuid::new_v4()).collect();
        let id = ids[0];
        let body = serde_json::Value::Array(
            ids.iter()
                .map(|id| serde_json::json!({"id": id, "action": "config.updated", "actor": {"id": "crash-test"}}))
                .collect(),
        )
        .to_string();
        loop {
            let addr = servers[turn % servers.len()];
            match http(addr, "/api/v1/events", Some(&key), Some(&body)).await {
                Ok((201, _)) => {
                    seen.lock().unwrap().acked.extend(ids.iter().copied());
                    break;
                }
                Ok((503, _)) | Err(_) => {
                    seen.lock().unwrap().retried += 1;
                    turn += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok((status, reply)) => {
                    seen.lock().unwrap().bad.push(format!("{status} {reply}"));
                    break;
                }
            }
            if Instant::now() > until + Duration::from_secs(60) {
                seen.lock()
                    .unwrap()
                    .bad
                    .push(format!("{id} never acknowledged"));
                return;
            }
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn sigterm_finishes_what_it_acknowledged_and_tells_live_clients_to_reconnect(pool: PgPool) {
    let url = common::url_of(&pool).await;
    let server = start(&url, &[("TRAILKEEP_SHUTDOWN_GRACE_SECONDS", "5")]).await;
    let key = common::key(&pool, &[Scope::Ingest, Scope::Read]).await;
    let mut socket = common::live(server.addr, &key, "").await;
    assert!(common::next_message(&mut socket, Duration::from_secs(10))
        .await
        .is_some());

    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Instant::now() + Duration::from_secs(3);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(ingest_until_refused(
                server.addr,
                key.clone(),
                until,
                seen.clone(),
            ))
        })
        .collect();
    // SIGTERM once ingest is under way (entries acknowledged): awaited, not slept.
    acknowledged(&seen, 1).await;
    signal(&server, "TERM");

    // The live socket is closed with "service restart", not dropped.
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the live socket is closed within the grace period");
    assert_eq!(close, Some(1012));

    for c in clients {
        c.await.unwrap();
    }
    let mut server = server;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.process.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "serve did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.bad.is_empty(), "{:?}", seen.bad);
    assert!(!seen.acked.is_empty());
    let ids: Vec<uuid::Uuid> = seen.acked.iter().copied().collect();
    let stored = stored(&pool, &ids).await;
    assert_eq!(
        stored,
        ids.len() as i64,
        "every acknowledged entry is stored"
    );
    assert!(trailkeep::service::chain::verify(&pool)
        .await
        .unwrap()
        .is_ok());
}

/// Waits until at least `n` entries have been acknowledged (a generous deadline: only ingest
/// that never gets going fails it).
async fn acknowledged(seen: &Mutex<Seen>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().acked.len() < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} entries acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the cluster at `url` holds at least `n` signed checkpoints; how many it holds.
async fn checkpoints_signed(url: &str, n: i64) -> i64 {
    use sqlx::Connection;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let signed = match sqlx::PgConnection::connect(url).await {
            Ok(mut c) => sqlx::query_scalar("SELECT count(*) FROM checkpoints")
                .fetch_one(&mut c)
                .await
                .unwrap_or(0),
            Err(_) => 0, // restarting
        };
        if signed >= n {
            return signed;
        }
        assert!(
            Instant::now() < deadline,
            "{signed} checkpoints signed, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ingests until the server stops taking connections (it is shutting down).
async fn ingest_until_refused(
    addr: SocketAddr,
    key: String,
    until: Instant,
    seen: Arc<Mutex<Seen>>,
) {
    while Instant::now() < until {
        let id = uuid::Uuid::new_v4();
        let body = serde_json::json!({"id": id, "action": "config.updated", "actor": {"id": "t"}})
            .to_string();
        match http(addr, "/api/v1/events", Some(&key), Some(&body)).await {
            Ok((201, _)) => {
                seen.lock().unwrap().acked.insert(id);
            }
            Ok((status, reply)) => seen.lock().unwrap().bad.push(format!("{status} {reply}")),
            Err(_) => return,
        }
    }
}

/// A PostgreSQL cluster of the test's own (it is crashed and restarted), removed afterwards.
struct Cluster {
    dir: PathBuf,
    url: String,
}

impl Cluster {
    fn start() -> Cluster {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = root.join(format!("target/pg/crash-{}", uuid::Uuid::new_v4().simple()));
        // A free port can be taken by another process before PostgreSQL binds it: on that
        // race (and only on it) try another one.
        let mut attempts = 0;
        let out = loop {
            attempts += 1;
            let out = Command::new(root.join("server/scripts/localdb.sh"))
                .arg(&dir)
                .arg(free_port().to_string())
                .output()
                .unwrap();
            let taken = String::from_utf8_lossy(&out.stderr).contains("could not bind");
            if out.status.success() || !taken || attempts == 5 {
                break out;
            }
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster {
            dir,
            url: String::from_utf8(out.stdout).unwrap().trim().to_string(),
        }
    }

    /// Runs `pg_ctl` on the cluster as its owner (the postgres user when the tests run as root,
    /// as localdb.sh arranged).
    fn pg_ctl(&self, args: &[&str]) {
        let debian = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin/pg_ctl"))
            .filter(|p| p.exists())
            .max();
        let pg_ctl = debian.unwrap_or_else(|| PathBuf::from("pg_ctl"));
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let status = command
            .arg("-D")
            .arg(&self.dir)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl {args:?}");
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.pg_ctl(&["stop", "-m", "immediate"]));
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("initdb.log"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_clients_two_processes_a_killed_server_and_a_crashed_database_lose_nothing() {
    let cluster = Cluster::start();
    let owner = storage::connect_owner(&cluster.url).await.unwrap();
    storage::migrate(&owner).await.unwrap();
    let (_, key) = accounts::create_key(
        &owner,
        "crash",
        &[Scope::Ingest, Scope::Read],
        &Acting::cli(),
    )
    .await
    .unwrap();
    owner.close().await;

    // Both integrate the Merkle tree and sign checkpoints (each second) while all this happens.
    let signing = [("TRAILKEEP_CHECKPOINT_SECONDS", "1")];
    let doomed = start(&cluster.url, &signing).await;
    let survivor = start(&cluster.url, &signing).await;
    let servers = vec![doomed.addr, survivor.addr];
    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Instant::now() + Duration::from_secs(6);
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let mut order = servers.clone();
            order.rotate_left(i % 2);
            tokio::spawn(client(order, key.clone(), until, seen.clone()))
        })
        .collect();

    // The kill once ingest is under way (30 entries, as many as a batch for each client) and a
    // checkpoint is signed, the database crash once the clients have gone on without the dead
    // server: awaited, not slept.
    acknowledged(&seen, 6 * 5).await;
    checkpoints_signed(&cluster.url, 1).await;
    let mut doomed = doomed;
    doomed.process.kill().unwrap(); // SIGKILL: no shutdown at all
    let _ = doomed.process.wait();
    let killed_at = seen.lock().unwrap().acked.len();
    acknowledged(&seen, killed_at + 5).await;
    let crashed_at = seen.lock().unwrap().acked.len();
    let signed_before = checkpoints_signed(&cluster.url, 1).await;
    cluster.pg_ctl(&["restart", "-m", "immediate", "-w", "-t", "60"]);

    for c in clients {
        c.await.unwrap();
    }
    // The survivor signs again after the crash.
    checkpoints_signed(&cluster.url, signed_before + 1).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.bad.is_empty(),
        "answers that were neither 201 nor retryable: {:?}",
        seen.bad
    );
    assert!(
        seen.acked.len() > crashed_at,
        "ingest resumed after the database restart ({} acknowledged before, {} in all)",
        crashed_at,
        seen.acked.len()
    );
    assert!(seen.retried > 0, "the faults were felt");

    let owner = storage::connect_owner(&cluster.url).await.unwrap();
    let ids: Vec<uuid::Uuid> = seen.acked.iter().copied().collect();
    let stored = stored(&owner, &ids).await;
    assert_eq!(
        stored,
        ids.len() as i64,
        "every acknowledged entry survived"
    );
    // Retries carried the same id: nothing was stored twice, and nothing unacknowledged.
    let ingested: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE actor_id = 'crash-test'")
            .fetch_one(&owner)
            .await
            .unwrap();
    assert_eq!(ingested, ids.len() as i64);
    let verdict = trailkeep::service::chain::verify(&owner).await.unwrap();
    assert!(verdict.is_ok(), "{verdict:?}");
    // The tree catches up with every entry, is the one the entries give, and every checkpoint
    // signed through the kill and the crash verifies and is consistent with it.
    let all = entries::count_all(&owner).await.unwrap() as u64;
    let mut tree = None;
    for _ in 0..100 {
        match trailkeep::service::tree::verify(&owner).await.unwrap() {
            TreeVerdict::Ok { size, .. } if size >= all => {
                tree = Some(size);
                break;
            }
            TreeVerdict::Ok { .. } => tokio::time::sleep(Duration::from_millis(100)).await,
            bad => panic!("{bad:?}"),
        }
    }
    assert!(tree.is_some(), "the tree caught up with {all} entries");
    let log_key = trailkeep::infra::keyfile::load(&processes::key_file(&cluster.url))
        .expect("the servers created the log key");
    let checkpoints = checkpoints::verify_all(&owner, log_key.verifier())
        .await
        .unwrap()
        .unwrap();
    assert!(checkpoints >= 2, "{checkpoints} checkpoints signed");
    eprintln!(
        "crash test: {} acknowledged, {} retries, verify {verdict:?}, {checkpoints} checkpoints",
        ids.len(),
        seen.retried
    );
    owner.close().await;
    drop(survivor);
}
