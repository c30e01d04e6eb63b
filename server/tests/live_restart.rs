//! Live mode across a PostgreSQL restart: `pg_ctl restart` on the test cluster mid-stream;
//! every entry committed before and after arrives exactly once, and the client is told.
//! (Its own test binary: it restarts the server every other test uses.)

mod common;

use std::path::Path;
use std::time::Duration;

use app::live::{LiveMessage, LiveState};
use common::{events, key, live, next_message, serve};
use sqlx::PgPool;
use trailkeep::{
    domain::auth::Scope,
    storage::{self, entries},
};

/// `pg_ctl` of the newest installed PostgreSQL, run as the cluster's owner.
fn pg_ctl(data_dir: &str, args: &[&str]) -> std::process::ExitStatus {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Debian's PostgreSQL binaries")
        .filter_map(|d| d.ok().map(|d| d.path().join("bin/pg_ctl")))
        .filter(|p| p.exists())
        .max()
        .expect("a pg_ctl");
    let as_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut command = if as_root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&bin);
        c
    } else {
        std::process::Command::new(&bin)
    };
    // The restarted server must not inherit our pipes (`output()` would wait for it to exit):
    // it logs beside its data, as `localdb.sh` starts it.
    command
        .arg("-D")
        .arg(data_dir)
        .arg("-l")
        .arg(format!("{data_dir}/server.log"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("pg_ctl runs")
}

#[sqlx::test(migrations = "../migrations")]
async fn entries_committed_around_a_postgres_restart_arrive_exactly_once(pool: PgPool) {
    let data_dir: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        Path::new(&data_dir).exists(),
        "this test restarts PostgreSQL, so it needs the local test cluster (make test); \
         DATABASE_URL points at a server whose data directory {data_dir} is not here"
    );
    let addr = serve(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let writer = storage::connect_with((*pool.connect_options()).clone(), 2)
        .await
        .unwrap();
    let mut socket = live(addr, &k, "").await;
    assert_eq!(
        next_message(&mut socket, Duration::from_secs(10)).await,
        Some(LiveMessage::Status {
            state: LiveState::Live
        })
    );
    for _ in 0..4 {
        entries::append(
            &writer,
            app::model::Source::Trailkeep,
            events("config.updated", 5),
        )
        .await
        .unwrap();
    }

    let status = pg_ctl(&data_dir, &["restart", "-m", "fast", "-w", "-t", "60"]);
    assert!(status.success(), "pg_ctl restart: {status:?}");

    // The pool's connections died with the server; appends succeed once it is back.
    let mut appended = 0;
    let started = std::time::Instant::now();
    while appended < 4 {
        match entries::append(
            &writer,
            app::model::Source::Trailkeep,
            events("config.updated", 5),
        )
        .await
        {
            Ok(_) => appended += 1,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("PostgreSQL did not come back: {e:?}"),
        }
    }

    let mut seqs = Vec::new();
    let mut states = Vec::new();
    // seq 0 is the key's own entry; the 40 events are 1..=40.
    while seqs.last() != Some(&40) {
        match next_message(&mut socket, Duration::from_secs(20)).await {
            Some(LiveMessage::Entry { entry }) => seqs.push(entry.seq),
            Some(LiveMessage::Status { state }) => states.push(state),
            Some(LiveMessage::Heartbeat { .. }) => {}
            None => panic!("the stream went silent; entries {seqs:?}, states {states:?}"),
        }
    }
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    assert!(
        states.contains(&LiveState::Reconnecting),
        "the client must be told while the bridge reconnects: {states:?}"
    );
    // Caught up, the bridge says it is live again.
    while states.last() != Some(&LiveState::Live) {
        match next_message(&mut socket, Duration::from_secs(20)).await {
            Some(LiveMessage::Status { state }) => states.push(state),
            Some(LiveMessage::Entry { entry }) => panic!("duplicate or extra entry {}", entry.seq),
            Some(LiveMessage::Heartbeat { .. }) => {}
            None => panic!("never live again: {states:?}"),
        }
    }
}
