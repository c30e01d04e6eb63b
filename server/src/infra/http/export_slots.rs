//! How many exports this process streams at once: at most [`PER_READER`] for one user or key
//! and [`TOTAL`] in all. An export holds a database connection, a writer task and (for a PDF)
//! a report in memory for as long as its client reads; past the caps a request gets 429 with
//! `Retry-After` before any work is done. The caps are per process: each process bounds its
//! own memory and connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::error::ApiError;

pub const TOTAL: usize = 8;
pub const PER_READER: usize = 2;
/// Seconds a refused client is told to wait.
const RETRY_AFTER: &str = "10";

#[derive(Clone, Default)]
pub struct ExportSlots {
    /// Running exports by reader (user or key id).
    running: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// One running export's place; freed when dropped (the export ended, however it ended).
pub struct Slot {
    slots: ExportSlots,
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

/// The 429 of a refused export.
pub struct Busy(ApiError);

impl IntoResponse for Busy {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
        response
    }
}

impl ExportSlots {
    /// A slot for `reader`, or why not.
    pub fn take(&self, reader: Uuid) -> Result<Slot, Busy> {
        let mut running = self.running.lock().expect("not poisoned");
        let busy = |message: String| Busy(ApiError::new(StatusCode::TOO_MANY_REQUESTS, message));
        if running.get(&reader).copied().unwrap_or(0) >= PER_READER {
            return Err(busy(format!(
                "you are already running {PER_READER} exports; wait for one to finish"
            )));
        }
        if running.values().sum::<usize>() >= TOTAL {
            return Err(busy(format!(
                "the server is running {TOTAL} exports, its limit; retry in a few seconds"
            )));
        }
        *running.entry(reader).or_default() += 1;
        Ok(Slot {
            slots: self.clone(),
            reader,
        })
    }
}
