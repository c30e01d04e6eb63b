//! Caps on long-running work a reader can start, per user or key and per process: exports (each
//! holds a connection, a writer task and, for a PDF, a report in memory while its client reads)
//! and live sockets. Past a cap the request gets 429 with `Retry-After` before any work is done.
//! The caps are per process: each process bounds its own memory and connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use uuid::Uuid;

use super::error::ApiError;
use crate::infra::config::Caps;

/// Seconds a refused client is told to wait.
const RETRY_AFTER: u32 = 10;

#[derive(Clone)]
pub struct Slots {
    /// What is capped, in the plural ("exports").
    what: &'static str,
    per_reader: usize,
    total: usize,
    /// Running ones by reader (user or key id).
    running: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// One running export's place; freed when dropped (the export ended, however it ended).
pub struct Slot {
    slots: Slots,
    reader: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.slots.running.lock().expect("not poisoned");
        if let Some(n) = running.get_mut(&self.reader) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.reader);
            }
        }
    }
}

impl Slots {
    pub fn new(what: &'static str, per_reader: usize, total: usize) -> Self {
        Slots {
            what,
            per_reader,
            total,
            running: Arc::default(),
        }
    }

    pub fn exports(caps: &Caps) -> Self {
        Self::new("exports", caps.exports_per_reader, caps.exports)
    }

    pub fn live(caps: &Caps) -> Self {
        Self::new("live connections", caps.live_per_reader, caps.live)
    }

    /// How many are running now.
    pub fn running(&self) -> usize {
        self.running.lock().expect("not poisoned").values().sum()
    }

    /// A slot for `reader`, or why not.
    pub fn take(&self, reader: Uuid) -> Result<Slot, ApiError> {
        let mut running = self.running.lock().expect("not poisoned");
        let busy = |message: String| {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).with_retry_after(RETRY_AFTER)
        };
        let (what, per_reader, total) = (self.what, self.per_reader, self.total);
        if running.get(&reader).copied().unwrap_or(0) >= per_reader {
            return Err(busy(format!(
                "you already have {per_reader} {what} running; wait for one to finish"
            )));
        }
        if running.values().sum::<usize>() >= total {
            return Err(busy(format!(
                "the server is running {total} {what}, its limit; retry in a few seconds"
            )));
        }
        *running.entry(reader).or_default() += 1;
        Ok(Slot {
            slots: self.clone(),
            reader,
        })
    }
}
