//! The world of the scheduled-export tests (scheduled_exports, s3_exports, retention): the
//! owner's and the writer's pools, the log's key, an export directory of its own, a scheduler
//! over them, and entries recorded at chosen instants through the real append path (the owner
//! moves the chain head's `last_recorded_at` forward; an append takes the later of the clock
//! and it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use app::exports::ScheduleSpec;
use app::model::Source;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use trailkeep::domain::integrity::checkpoint::SigningKey;
use trailkeep::domain::sealed::SealKey;
use trailkeep::service::accounts::Acting;
use trailkeep::service::archive::Archiver;
use trailkeep::service::destination::ExportRoot;
use trailkeep::service::outbound::Outbound;
use trailkeep::service::scheduler::Scheduler;
use trailkeep::service::schedules;
use trailkeep::storage::entries;
use uuid::Uuid;

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A fresh folder under the system's temporary directory.
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trailkeep-exports-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn key() -> SigningKey {
    SigningKey::generate("trailkeep.test/log", &mut rand_core::OsRng).unwrap()
}

pub struct World {
    pub owner: PgPool,
    pub writer: PgPool,
    pub key: SigningKey,
    pub root: PathBuf,
}

/// An enabled schedule of `cadence` in `zone` with `filter`, writing `format` into the export
/// directory's `directory` folder; the tests change what else they need with `..`.
pub fn directory_spec(
    cadence: &str,
    zone: &str,
    filter: &str,
    format: &str,
    directory: &str,
) -> ScheduleSpec {
    ScheduleSpec {
        name: format!("{cadence} {format} {zone} {filter}")
            .trim_end()
            .to_string(),
        cadence: cadence.into(),
        cron: None,
        zone: zone.into(),
        filter: filter.into(),
        format: format.into(),
        destination: "directory".into(),
        directory: directory.into(),
        s3: None,
        enabled: true,
    }
}

impl World {
    /// Creates `spec` (by the CLI) as of `created`: its id.
    pub async fn create(&self, spec: &ScheduleSpec, created: &str) -> Uuid {
        schedules::create(&self.writer, spec, None, &Acting::cli(), utc(created))
            .await
            .unwrap()
            .id
    }

    /// Partitions through 2027 (the tests record there), the writer's pool, a key, a folder.
    pub async fn new(pool: &PgPool) -> World {
        super::partitions_through(pool, "2027-12-01T00:00:00Z").await;
        World {
            owner: pool.clone(),
            writer: super::writer_pool(pool).await,
            key: key(),
            root: temp_dir(),
        }
    }

    /// A scheduler (one process) with no key for S3 credentials and the default guard.
    pub fn scheduler(&self) -> Scheduler {
        self.scheduler_with(None, Outbound::new(Default::default()))
    }

    pub fn scheduler_with(&self, seal: Option<SealKey>, outbound: Outbound) -> Scheduler {
        let root = ExportRoot::new(&self.root);
        Scheduler {
            archiver: Archiver {
                pool: self.writer.clone(),
                reads: self.writer.clone(),
                log_key: Arc::new(self.key.verifier().clone()),
                signing_key: Some(Arc::new(self.key.clone())),
                signer_memory: None,
                work_dir: root.work_dir(),
            },
            root,
            seal,
            outbound,
            owner: Uuid::new_v4(),
            lease: Duration::from_secs(60),
        }
    }

    /// Appends `n` entries recorded at `at` (later than the last one, and than the clock).
    pub async fn record_at(&self, at: &str, n: usize) {
        sqlx::query("UPDATE chain_head SET last_recorded_at = $1")
            .bind(utc(at))
            .execute(&self.owner)
            .await
            .unwrap();
        let batch = super::events("doc.viewed", n);
        let acks = entries::append(&self.writer, Source::Trailkeep, batch)
            .await
            .unwrap();
        let recorded: DateTime<Utc> =
            sqlx::query_scalar("SELECT recorded_at FROM audit_entries WHERE seq = $1")
                .bind(acks[0].seq)
                .fetch_one(&self.owner)
                .await
                .unwrap();
        assert_eq!(recorded, utc(at));
    }
}
