//! What Trailkeep is, independent of HTTP and the CLI.

pub mod accounts;
pub mod auth;
pub mod canonical;
pub mod chain;
pub mod cursor;
pub mod demo;
pub mod event;
pub mod export;
pub mod live;
pub mod report;
