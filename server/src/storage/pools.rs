//! How long work waited for a database connection: every read and every append takes its
//! connection through [`acquire`], which records the wait in its pool's [`Waits`], and
//! `/api/v1/metrics` reports them as `trailkeep_db_pool_wait_seconds`. A read that waits is
//! the first sign of an undersized read pool; an append that waits, of an undersized one for
//! ingest.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use sqlx::{pool::PoolConnection, PgPool, Postgres};

/// Upper bounds of the histogram's buckets, in seconds (the last bucket is +Inf).
pub const WAIT_BUCKETS: [f64; 8] = [0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 10.0];

/// A histogram of connection waits for one pool.
pub struct Waits {
    /// The pool's name in the metric's `pool` label.
    pub pool: &'static str,
    buckets: [AtomicU64; WAIT_BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
}

/// A snapshot of [`Waits`]: cumulative bucket counts, count and sum in seconds.
pub struct WaitCounts {
    pub pool: &'static str,
    pub cumulative: [u64; WAIT_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

impl Waits {
    const fn new(pool: &'static str) -> Self {
        Waits {
            pool,
            buckets: [const { AtomicU64::new(0) }; WAIT_BUCKETS.len()],
            count: AtomicU64::new(0),
            micros: AtomicU64::new(0),
        }
    }

    fn record(&self, waited: Duration) {
        let seconds = waited.as_secs_f64();
        if let Some(i) = WAIT_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.micros.fetch_add(
            u64::try_from(waited.as_micros()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    pub fn counts(&self) -> WaitCounts {
        let mut cumulative = [0; WAIT_BUCKETS.len()];
        let mut running = 0;
        for (c, b) in cumulative.iter_mut().zip(&self.buckets) {
            running += b.load(Relaxed);
            *c = running;
        }
        WaitCounts {
            pool: self.pool,
            cumulative,
            count: self.count.load(Relaxed),
            sum_seconds: self.micros.load(Relaxed) as f64 / 1e6,
        }
    }
}

/// Appends (the ingest pool).
pub static WRITES: Waits = Waits::new("write");
/// Searches, counts, facets, exports and live backfill (the read pool).
pub static READS: Waits = Waits::new("read");

/// A connection from `pool`, the wait recorded in `waits` (also when it ends in an error,
/// such as the pool's acquire timeout).
pub async fn acquire(
    pool: &PgPool,
    waits: &'static Waits,
) -> Result<PoolConnection<Postgres>, sqlx::Error> {
    let started = Instant::now();
    let conn = pool.acquire().await;
    waits.record(started.elapsed());
    conn
}
