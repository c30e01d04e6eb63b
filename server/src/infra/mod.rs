//! The edges: HTTP, the command line, configuration, benchmarks.

pub mod bench;
pub mod bench_export;
pub mod bench_live;
pub mod cli;
pub mod config;
pub mod http;
