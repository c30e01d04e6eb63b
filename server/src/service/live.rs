//! Live mode. Each server process runs one [`Bridge`]: a PostgreSQL listener on the log's
//! channel that, on each announcement, reads the new rows by `seq` once and broadcasts them
//! to this process's live clients. [`stream`] serves one client: backfill from its last `seq`,
//! then the broadcast filtered for it, with no gap and no duplicate between the two.
//!
//! Why no entry is skipped: every append locks the chain head, so entries commit in `seq`
//! order; reading `seq > last` after any announcement (or after reconnecting) therefore sees
//! everything committed, whichever process wrote it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use app::live::{LiveMessage, LiveState, HEARTBEAT_SECS};
use app::model::AuditEntry;
use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

use crate::domain::auth;
use crate::domain::query::live_filter::LiveFilter;
use crate::storage::{
    live::{self as channel, LiveRow},
    query,
};

/// Rows read per query, by the bridge and by a client's backfill.
pub const BATCH: i64 = 500;
/// Batches a client may fall behind before it must resync from the database.
const CLIENT_BUFFER: usize = 256;
/// Besides notifications, the bridge looks for new rows this often: a notification lost on
/// a half-open connection costs at most this delay, never an entry.
const POLL: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a new client waits for a starting bridge before being told "reconnecting".
const STARTUP: Duration = Duration::from_secs(3);

/// New rows, in `seq` order; every entry up to `upto` has been broadcast once this arrives.
pub struct Batch {
    pub rows: Vec<Fresh>,
    pub upto: i64,
}

/// A new row with its `entry` message, serialised once for every client.
pub struct Fresh {
    pub row: LiveRow,
    pub frame: Frame,
}

/// One protocol message as JSON text (`app::live::LiveMessage`).
pub type Frame = Arc<str>;

pub fn frame(message: &LiveMessage) -> Frame {
    serde_json::to_string(message)
        .expect("protocol messages serialise")
        .into()
}

fn entry_frame(entry: &AuditEntry) -> Frame {
    let entry = serde_json::to_string(entry).expect("entries serialise");
    format!(r#"{{"type":"entry","entry":{entry}}}"#).into()
}

/// What the bridge has done so far: everything up to `seq` has been broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub seq: i64,
    pub live: bool,
}

/// This process's bridge. Started by the first live client, so processes and tests that
/// never serve one hold no listener connection.
#[derive(Clone)]
pub struct Bridge {
    pool: PgPool,
    client_buffer: usize,
    started: Arc<OnceLock<Running>>,
    /// Times the listener connection was lost and made again (for metrics).
    reconnects: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone)]
struct Running {
    batches: broadcast::Sender<Arc<Batch>>,
    position: watch::Receiver<Position>,
}

impl Bridge {
    pub fn new(pool: PgPool) -> Self {
        Self::with_client_buffer(pool, CLIENT_BUFFER)
    }

    /// A bridge whose clients may fall `batches` behind before they must resync.
    pub fn with_client_buffer(pool: PgPool, batches: usize) -> Self {
        Bridge {
            pool,
            client_buffer: batches,
            started: Arc::new(OnceLock::new()),
            reconnects: Arc::default(),
        }
    }

    /// How many times the listener has reconnected since the process started.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// For readiness: `None` before the first live client started the bridge, else whether its
    /// listener is connected and caught up.
    pub fn listening(&self) -> Option<bool> {
        self.started.get().map(|r| r.position.borrow().live)
    }

    /// Starts the bridge if needed; the caller must be inside the tokio runtime.
    async fn running(&self) -> Result<Running, sqlx::Error> {
        if let Some(r) = self.started.get() {
            return Ok(r.clone());
        }
        let head = channel::head_seq(&self.pool).await?;
        let running = self.started.get_or_init(|| {
            let (batches, _) = broadcast::channel(self.client_buffer);
            let (position_tx, position) = watch::channel(Position {
                seq: head,
                live: false,
            });
            tokio::spawn(run(
                self.pool.clone(),
                batches.clone(),
                position_tx,
                self.reconnects.clone(),
            ));
            Running { batches, position }
        });
        Ok(running.clone())
    }
}

/// The bridge's loop: listen, catch up, fan out; on any failure, back off, reconnect and
/// catch up from the last `seq` broadcast.
async fn run(
    pool: PgPool,
    batches: broadcast::Sender<Arc<Batch>>,
    position: watch::Sender<Position>,
    reconnects: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut backoff = Duration::from_millis(100);
    // Ends with its pool (a process shutting down, a test finishing).
    while !pool.is_closed() {
        if let Err(e) = listen_and_forward(&pool, &batches, &position).await {
            tracing::warn!(error = %e, "live bridge: reconnecting");
            reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // A connection that had been live starts the backoff afresh.
        if position.borrow().live {
            backoff = Duration::from_millis(100);
        }
        position.send_modify(|p| p.live = false);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn listen_and_forward(
    pool: &PgPool,
    batches: &broadcast::Sender<Arc<Batch>>,
    position: &watch::Sender<Position>,
) -> Result<(), sqlx::Error> {
    let mut listener = channel::listen(pool).await?;
    // Anything committed while nobody listened.
    catch_up(pool, batches, position).await?;
    position.send_modify(|p| p.live = true);
    let mut poll = tokio::time::interval(POLL);
    let closed = pool.close_event();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            _ = &mut closed => return Ok(()),
            notification = listener.try_recv() => match notification? {
                Some(n) => {
                    let announced = channel::announced_seq(n.payload());
                    if announced.is_none_or(|s| s > position.borrow().seq) {
                        catch_up(pool, batches, position).await?;
                    }
                }
                None => return Err(sqlx::Error::PoolClosed),
            },
            _ = poll.tick() => catch_up(pool, batches, position).await?,
        }
    }
}

/// Reads and broadcasts every row after the position, in batches.
async fn catch_up(
    pool: &PgPool,
    batches: &broadcast::Sender<Arc<Batch>>,
    position: &watch::Sender<Position>,
) -> Result<(), sqlx::Error> {
    loop {
        let after = position.borrow().seq;
        let rows = channel::rows_after(pool, after, BATCH).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        let upto = last.entry.seq;
        let full = rows.len() as i64 == BATCH;
        let rows = rows
            .into_iter()
            .map(|row| Fresh {
                frame: entry_frame(&row.entry),
                row,
            })
            .collect();
        // The position moves before the send: a client subscribing in between either sees
        // the batch or a position that includes it (see `stream`).
        position.send_modify(|p| p.seq = upto);
        let _ = batches.send(Arc::new(Batch { rows, upto }));
        if !full {
            return Ok(());
        }
    }
}

/// Where a client's stream sends its messages. `false` from `send` means the client is gone.
pub trait Sink {
    fn send(&mut self, frame: Frame) -> impl std::future::Future<Output = bool> + Send;
}

/// Serves one live client until it goes away: backfill after `after_seq` (if given), then
/// matching entries as they commit, status changes and heartbeats.
/// `still_allowed` is asked at every heartbeat, and at once when Trailkeep records that someone's
/// access may have ended (`auth::may_end_access`): a revoked key or ended session stops the
/// stream.
pub async fn stream<F>(
    bridge: &Bridge,
    filter: LiveFilter,
    after_seq: Option<i64>,
    sink: &mut impl Sink,
    client_gone: impl std::future::Future<Output = ()>,
    mut still_allowed: impl FnMut() -> F,
) -> Result<(), sqlx::Error>
where
    F: std::future::Future<Output = bool>,
{
    // A resume point beyond the log (a restored database) would skip what comes next.
    let after_seq = match after_seq {
        Some(after) => Some(after.min(channel::head_seq(&bridge.pool).await?)),
        None => None,
    };
    let running = bridge.running().await?;
    // Subscribe before reading the position: every batch beyond it is then in `batches`.
    let mut batches = running.batches.subscribe();
    let mut position = running.position.clone();
    let start = *position.borrow_and_update();
    if !start.live {
        // A bridge that is just starting is live within moments: say so rather than
        // "reconnecting" (entries committed meanwhile still come, from `start.seq` on).
        let _ = tokio::time::timeout(STARTUP, position.wait_for(|p| p.live)).await;
    }
    let mut state = if position.borrow_and_update().live {
        LiveState::Live
    } else {
        LiveState::Reconnecting
    };
    if !sink.send(frame(&LiveMessage::Status { state })).await {
        return Ok(());
    }
    // `sent`: every matching entry up to it has been sent. The client hears it at once, so
    // it can resume without a gap even if it drops before the first regular heartbeat.
    let mut sent = start.seq;
    if let Some(after) = after_seq {
        match backfill(&bridge.pool, &filter, after, sink).await? {
            None => return Ok(()),
            Some(covered) => sent = sent.max(covered),
        }
    }
    if !sink
        .send(frame(&LiveMessage::Heartbeat { seq: sent }))
        .await
    {
        return Ok(());
    }
    let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECS));
    heartbeat.reset();
    tokio::pin!(client_gone);
    loop {
        tokio::select! {
            _ = &mut client_gone => return Ok(()),
            batch = batches.recv() => match batch {
                Ok(batch) => {
                    // Someone's access may have ended (a key revoked, a user deactivated):
                    // this stream's credentials are checked now, before anything else is sent.
                    let cue = batch.rows.iter().any(|f| {
                        auth::may_end_access(f.row.entry.source.as_ref(), &f.row.entry.action)
                    });
                    if cue && !still_allowed().await {
                        return Ok(());
                    }
                    let now = Utc::now();
                    for fresh in batch.rows.iter().filter(|f| f.row.entry.seq > sent) {
                        let row = &fresh.row;
                        if filter.matches(&row.entry, &row.search_text, now)
                            && !sink.send(fresh.frame.clone()).await
                        {
                            return Ok(());
                        }
                    }
                    sent = sent.max(batch.upto);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Too slow for the broadcast: catch up from the database instead, then
                    // go on with what the broadcast still holds (duplicates are skipped).
                    if !sink.send(frame(&LiveMessage::Status { state: LiveState::Resync })).await {
                        return Ok(());
                    }
                    match backfill(&bridge.pool, &filter, sent, sink).await? {
                        None => return Ok(()),
                        Some(covered) => sent = sent.max(covered),
                    }
                    if !sink.send(frame(&LiveMessage::Status { state })).await {
                        return Ok(());
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            changed = position.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let now_state = if position.borrow_and_update().live {
                    LiveState::Live
                } else {
                    LiveState::Reconnecting
                };
                if now_state != state {
                    state = now_state;
                    if !sink.send(frame(&LiveMessage::Status { state })).await {
                        return Ok(());
                    }
                }
            }
            _ = heartbeat.tick() => {
                if !still_allowed().await
                    || !sink.send(frame(&LiveMessage::Heartbeat { seq: sent })).await
                {
                    return Ok(());
                }
            }
        }
    }
}

/// Sends every matching entry after `after` from the database, in bounded batches. Returns the
/// highest `seq` it has covered (every matching entry up to it was sent), or `None` if the
/// client went away.
async fn backfill(
    pool: &PgPool,
    filter: &LiveFilter,
    after: i64,
    sink: &mut impl Sink,
) -> Result<Option<i64>, sqlx::Error> {
    let mut last = after;
    loop {
        // Read the head first: every matching entry up to it is in the batches that follow.
        let head = channel::head_seq(pool).await?;
        let entries = query::matching_after(pool, filter, last, BATCH).await?;
        let full = entries.len() as i64 == BATCH;
        for entry in entries {
            last = entry.seq;
            if !sink.send(entry_frame(&entry)).await {
                return Ok(None);
            }
        }
        if !full {
            return Ok(Some(last.max(head)));
        }
        // A long backfill still shows progress (and the resume point) to the client.
        if !sink
            .send(frame(&LiveMessage::Heartbeat { seq: last }))
            .await
        {
            return Ok(None);
        }
    }
}
