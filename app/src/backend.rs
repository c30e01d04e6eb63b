//! What the console's server functions need from the server, without depending on it:
//! the server crate implements [`ConsoleBackend`] and provides it as Leptos context.

use std::{future::Future, pin::Pin, sync::Arc};

use crate::model::AuditEntry;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait ConsoleBackend: Send + Sync + 'static {
    /// The newest `limit` entries, newest first.
    fn recent_entries(&self, limit: i64) -> BoxFuture<'_, Result<Vec<AuditEntry>, String>>;
}

pub type SharedBackend = Arc<dyn ConsoleBackend>;
