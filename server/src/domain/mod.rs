//! What Trailkeep is, independent of HTTP, the CLI and the database: pure rules and types.
//! Nothing here performs I/O; `storage` and `service` build on it.

pub mod auth;
pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod cursor;
pub mod demo;
pub mod entry;
pub mod event;
pub mod export;
pub mod export_check;
pub mod live_filter;
pub mod pdf;
pub mod report;
pub mod tree;
pub mod window;
