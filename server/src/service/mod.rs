//! Workflows that read and write through `storage` under `domain`'s rules: account changes
//! committed with the entries that record them, and the live bridge.

pub mod accounts;
pub mod acting;
pub mod alerts;
pub mod archive;
pub mod bundle_file;
pub mod chain;
pub mod checkpoints;
pub mod demo;
pub mod destination;
pub mod export;
pub mod ingest;
pub mod invitations;
pub mod keys;
pub mod live;
pub mod months;
pub mod outbound;
pub mod partitions;
pub mod password_checks;
pub mod period_file;
pub mod periodic;
pub mod retention;
pub mod s3;
pub mod scheduler;
pub mod schedules;
pub mod settings;
pub mod tree;
pub mod two_factor;
pub mod users;
