//! The edges: HTTP, the command line, configuration. (Benchmarks are a binary of their own:
//! `src/bin/trailkeep-bench`.)

pub mod cli;
pub mod config;
pub mod http;
pub mod keyfile;
pub mod logging;
pub mod verify_export;
