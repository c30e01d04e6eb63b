//! The Trailkeep server, in four layers. Imports run one way only, down this list:
//!
//! - `infra`: the edges: HTTP (API, console, live sockets), the command line, configuration,
//!   logging. It may use every layer below.
//! - `service`: workflows that read and write under the rules: account changes committed with
//!   the entries that record them, the live bridge. It uses `storage` and `domain`.
//! - `storage`: PostgreSQL, the only state; every SQL statement lives here. It uses `domain`'s
//!   types (an entry's field list, cursors, time windows) and nothing above it.
//! - `domain`: what Trailkeep is: pure rules and types, no I/O (hashing, validation, filters'
//!   windows, live matching, export formats, the PDF report). It uses only the `app` crate.
//!
//! `tests/layers.rs` fails on an import against this direction, and on any two files that
//! import each other.

pub mod domain;
pub mod infra;
pub mod service;
pub mod storage;
