//! Alerting as it runs: rules as people make them (each change committed with the entry that
//! records it), and the one evaluator that reads the log in `seq` order and decides.
//!
//! - `rules`: a rule's spec checked into a condition, created with its audit entry.
//! - `evaluator`: the lease, the machines, and the step that commits progress and decisions
//!   together.

pub mod evaluator;
pub mod rules;
