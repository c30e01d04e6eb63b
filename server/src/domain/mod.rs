//! What Trailkeep is, independent of HTTP, the CLI and the database: pure rules and types.
//! Nothing here performs I/O; `storage` and `service` build on it. One folder per concept:
//!
//! - `entry`: an entry's one field list, the events that become entries, their canonical
//!   (hashed) form and the hash chain.
//! - `integrity`: the Merkle tree over the entries and the signed checkpoints of its root.
//! - `export`: the export formats, their offline check, and the PDF report.
//! - `query`: what reading the log needs beyond the shared `Filter`: cursors, time windows,
//!   the in-memory match of live and exported entries.
//! - `auth`: passwords, API keys, sessions; `two_factor`: time-based and recovery codes;
//!   `sealed`: secrets stored encrypted under a key kept outside the database.
//! - `outbound`: which addresses outbound calls may reach (the SSRF guard's rule).
//! - `alerts`: alert rules and the machine that decides when they fire and resolve.

pub mod alerts;
pub mod auth;
pub mod entry;
pub mod export;
pub mod integrity;
pub mod outbound;
pub mod query;
pub mod sealed;
pub mod two_factor;
