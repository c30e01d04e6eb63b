//! The Trailkeep server: `domain` holds the rules, `storage` the SQL, `infra` the edges.

pub mod domain;
pub mod infra;
pub mod storage;
